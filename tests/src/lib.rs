//! End-to-end test support for enlist: a stateful fake GitHub checked against GitHub's OpenAPI
//! description ([`fake`], [`openapi`]), a virtual clock ([`clock`]), and a harness that runs the
//! real binary or the library entry point as a node would ([`node`]).

pub mod clock;
pub mod container;
pub mod fake;
pub mod fleetgen;
pub mod graphql;
pub mod logs;
pub mod markdown;
pub mod measure;
pub mod node;
pub mod openapi;
// The agent's own test helper (the `enlist` crate tests without this crate), shared as source.
#[path = "../../agent/tests/integration/postgres.rs"]
pub mod postgres;
pub mod proxy;
