//! Spate: streaming analytics over micro-batch RDDs. The facade crate with a prelude.
