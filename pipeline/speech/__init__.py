"""Speech: transcription with local Whisper (``whisper``) and the transcript's word list and formats (``transcript``)."""
