"""Using a fitted model: class predictions over pixels and whole scenes, attention read-outs, and
the arithmetic (float32 or bfloat16) they run in."""
