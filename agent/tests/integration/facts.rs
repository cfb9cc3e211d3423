//! Facts on fixture trees.
