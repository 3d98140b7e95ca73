"""Screening policies as managed data: versions, the functions' cached lookup, their administration."""
