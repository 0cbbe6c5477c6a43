"""Speech: transcription with local Whisper (``whisper``), who spoke when in a mixed recording (``diarize``), and the
transcript's word list and formats (``transcript``)."""
