//! Faults and rate limits through the library entry point with a virtual clock: the waits the
//! client would take are recorded, not slept.
