"""Getting the built tree to listeners: destinations (folder, S3, SFTP), notifications (WebSub, Podcast Index, podping), publishing and watching."""
