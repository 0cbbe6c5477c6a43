"""The conditions episodes are tagged with: the taxonomy (``taxonomy``) and the suggester that reads transcripts
(``suggest``)."""
