"""The streaming function: streamed, screened, encrypted chat completions over SSE (docs/streaming.md)."""
