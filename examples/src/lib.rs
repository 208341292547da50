//! Runnable examples of the codeb SDK live under `examples/`.
