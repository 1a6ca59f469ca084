//! An in-process Entra-like authority on loopback.
