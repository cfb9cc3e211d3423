//! The node.yaml document: schema, rendering (YAML / JSON / Nix), parsing and `factsHash`.
//!
//! `factsHash` = `sha256:` + hex SHA-256 of the canonical JSON (see [`crate::hash`]) of every
//! section except `schema`, `nodeId`, `operator` and `factsHash` itself: the hostname and the
//! hardware. Identical hardware therefore gives byte-identical files, and a hand edit of any fact
//! is detectable by recomputing the hash.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::facts::{Cpu, Disk, Facts, Gpu, Memory, Nic, System};
use crate::hash::{canonical_json, sha256_hex};
use crate::hostkey::HostKey;
use crate::identity::{IdentitySource, NodeId};
use crate::input::yaml::{self, Budget};

/// The schema id written into every node.yaml.
pub const SCHEMA: &str = "enlist.dev/node/v1";

/// Keys left out of the facts hash: they name the record, they are not facts about the machine.
const UNHASHED_KEYS: [&str; 4] = ["schema", "nodeId", "operator", "factsHash"];

/// One node.yaml. Field order is the file's key order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeDocument {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The node id (also the directory name in the GitOps repo).
    pub node_id: NodeId,
    /// Static hostname.
    pub hostname: String,
    /// Who operates the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Where the identity came from and its hash.
    pub identity: IdentityDoc,
    /// DMI identification.
    pub system: System,
    /// CPU facts.
    pub cpu: Cpu,
    /// Memory facts.
    pub memory: Memory,
    /// Physical disks.
    pub disks: Vec<Disk>,
    /// Physical NICs.
    pub network: Vec<Nic>,
    /// Display controllers.
    pub gpus: Vec<Gpu>,
    /// SSH host public keys, `type base64`, sorted (see [`crate::hostkey`]). Left out while the
    /// machine has none (so a node.yaml written before keys existed keeps its `factsHash`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::hostkey::deserialize_list"
    )]
    pub ssh_host_keys: Vec<HostKey>,
    /// `sha256:<hex>` over the hostname and hardware sections.
    pub facts_hash: String,
}

/// The identity section: source and fingerprint, never the raw value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityDoc {
    /// Which source the identity came from.
    pub source: IdentitySource,
    /// `sha256:<hex>` of the identity value.
    pub fingerprint: String,
}

/// A node.yaml that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not YAML, or not this schema's shape.
    #[error(
        "{location}: not a valid node.yaml: {message}; regenerate it with `enlist facts --format \
         yaml` on the node"
    )]
    Parse {
        /// Where the text came from (file path or `repo:path@ref`).
        location: String,
        /// What serde said, with line and column when known.
        message: String,
    },
    /// YAML, but not a node.yaml at all: empty, only comments, a list or a single value, or a
    /// mapping without a `schema` key.
    #[error(
        "{location}: not a node.yaml: {what}; regenerate it with `enlist facts --format yaml` on \
         the node"
    )]
    NotANode {
        /// Where the text came from.
        location: String,
        /// What the file is instead.
        what: String,
    },
    /// A schema this version does not understand.
    #[error("{location}: schema {found:?} is not {SCHEMA:?}; upgrade enlist or fix the file")]
    Schema {
        /// Where the text came from.
        location: String,
        /// The schema it declared.
        found: String,
    },
    /// Edited by hand (or corrupted): the stated hash is not the content's.
    #[error(
        "{location}: factsHash {stated} does not match the content ({computed}); the file was edited \
         by hand: regenerate it with `enlist facts --format yaml` on the node"
    )]
    HashMismatch {
        /// Where the text came from.
        location: String,
        /// The hash written in the file.
        stated: String,
        /// The hash of the content.
        computed: String,
    },
}

impl NodeDocument {
    /// Builds the document for `facts` under `node_id`, computing `factsHash`.
    pub fn new(facts: &Facts, node_id: NodeId, operator: Option<String>) -> NodeDocument {
        let mut doc = NodeDocument {
            schema: SCHEMA.to_owned(),
            node_id,
            hostname: facts.hostname.clone(),
            operator,
            identity: IdentityDoc {
                source: facts.identity.source(),
                fingerprint: facts.identity.fingerprint(),
            },
            system: facts.system.clone(),
            cpu: facts.cpu.clone(),
            memory: facts.memory.clone(),
            disks: facts.disks.clone(),
            network: facts.network.clone(),
            gpus: facts.gpus.clone(),
            ssh_host_keys: {
                let mut keys = facts.ssh_host_keys.clone();
                keys.sort();
                keys.dedup();
                keys
            },
            facts_hash: String::new(),
        };
        doc.facts_hash = doc.compute_facts_hash();
        doc
    }

    /// The hash of this document's facts, whatever `facts_hash` currently says.
    pub fn compute_facts_hash(&self) -> String {
        let mut value = self.to_value();
        if let Value::Object(map) = &mut value {
            for key in UNHASHED_KEYS {
                map.remove(key);
            }
        }
        format!("sha256:{}", sha256_hex(canonical_json(&value).as_bytes()))
    }

    /// The same document under another node id (after a collision extended it).
    pub fn with_node_id(&self, node_id: NodeId) -> NodeDocument {
        NodeDocument {
            node_id,
            ..self.clone()
        }
    }

    /// The document as JSON (camelCase keys, sorted).
    pub fn to_value(&self) -> Value {
        // Serializing plain data structs with string keys to a Value cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The node.yaml text.
    pub fn to_yaml(&self) -> String {
        // serde_yaml only fails on maps with non-string keys, which this type has none of.
        yaml::to_string(self).unwrap_or_default()
    }

    /// Pretty JSON with the same keys, newline-terminated.
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(&self.to_value()).unwrap_or_default();
        out.push('\n');
        out
    }

    /// A Nix attribute set with the same facts, for `hardware.nix`.
    pub fn to_nix(&self) -> String {
        let mut out = String::from(
            "# Generated by `enlist facts --format nix`; the same facts as node.yaml.\n",
        );
        crate::nix::write_value(&self.to_value(), 0, &mut out);
        out.push('\n');
        out
    }

    /// Parses a node.yaml and checks schema and `factsHash`.
    pub fn parse(text: &str, location: &str) -> Result<NodeDocument, DocumentError> {
        let doc = Self::parse_unverified(text, location)?;
        let computed = doc.compute_facts_hash();
        if computed != doc.facts_hash {
            return Err(DocumentError::HashMismatch {
                location: location.to_owned(),
                stated: doc.facts_hash.clone(),
                computed,
            });
        }
        Ok(doc)
    }

    /// Parses a node.yaml and checks the schema, without checking `factsHash`.
    pub fn parse_unverified(text: &str, location: &str) -> Result<NodeDocument, DocumentError> {
        // Bounded (see `input::yaml`): a hostile file — from a pull request, or the upstream
        // branch in `register` — ends here in time proportional to its size.
        let parse_error = |e: yaml::YamlError| DocumentError::Parse {
            location: location.to_owned(),
            message: e.to_string(),
        };
        // Look at the schema first so a future schema gets a clear message, not a field error.
        let loose: serde_yaml::Value =
            yaml::from_str_within(text, Budget::NODE_YAML).map_err(parse_error)?;
        let not_a_node = |what: &str| DocumentError::NotANode {
            location: location.to_owned(),
            what: what.to_owned(),
        };
        let schema = match &loose {
            serde_yaml::Value::Null => {
                return Err(not_a_node("the file is empty (or holds only comments)"));
            }
            serde_yaml::Value::Sequence(_) => {
                return Err(not_a_node("the file is a list, not a mapping of keys"));
            }
            serde_yaml::Value::Mapping(map) => match map.get("schema") {
                None => return Err(not_a_node("the file has no `schema` key")),
                Some(schema) => schema.as_str().unwrap_or(""),
            },
            _ => {
                return Err(not_a_node(
                    "the file is a single value, not a mapping of keys",
                ));
            }
        };
        if schema != SCHEMA {
            return Err(DocumentError::Schema {
                location: location.to_owned(),
                found: schema.to_owned(),
            });
        }
        yaml::from_str_within(text, Budget::NODE_YAML).map_err(parse_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Candidates, Identity};

    pub(crate) fn sample_facts() -> Facts {
        Facts {
            hostname: "rack1-n1".into(),
            identity: Identity::choose(&Candidates {
                product_uuid: Some("4c4c4544-0035-4810-8056-b7c04f4e3332".into()),
                ..Candidates::default()
            })
            .unwrap(),
            system: System {
                vendor: Some("Dell Inc.".into()),
                model: Some("PowerEdge R640".into()),
                serial: Some("5H8VXC3".into()),
                board_vendor: Some("Dell Inc.".into()),
                board_model: Some("0H28RR".into()),
            },
            cpu: Cpu {
                model: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz".into(),
                arch: "x86_64".into(),
                sockets: 2,
                cores: 40,
                threads: 80,
            },
            memory: Memory {
                total_bytes: 384 * 1024 * 1024 * 1024,
            },
            disks: vec![Disk {
                model: Some("Dell Ent NVMe v2 AGN RI U.2 1.92TB".into()),
                serial: Some("S4YNNE0N100123".into()),
                size_bytes: 1_920_383_410_176,
                rotational: false,
                transport: "nvme".into(),
            }],
            network: vec![Nic {
                name: "eno1".into(),
                mac: "b0:26:28:00:00:01".into(),
                driver: Some("bnxt_en".into()),
            }],
            gpus: vec![],
            ssh_host_keys: vec![],
        }
    }

    fn node_id(facts: &Facts) -> NodeId {
        facts.identity.node_id(6)
    }

    #[test]
    fn identical_facts_give_identical_bytes() {
        let facts = sample_facts();
        let a = NodeDocument::new(&facts, node_id(&facts), Some("alice".into()));
        let b = NodeDocument::new(&facts.clone(), node_id(&facts), Some("alice".into()));
        assert_eq!(a.to_yaml(), b.to_yaml());
        assert!(a.facts_hash.starts_with("sha256:"));
    }

    #[test]
    fn hash_ignores_node_id_operator_and_schema() {
        let facts = sample_facts();
        let a = NodeDocument::new(&facts, node_id(&facts), Some("alice".into()));
        let b = NodeDocument::new(&facts, NodeId::parse("node-other").unwrap(), None);
        assert_eq!(a.facts_hash, b.facts_hash);
        let mut changed = facts.clone();
        changed.hostname = "rack1-n2".into();
        let c = NodeDocument::new(&changed, node_id(&facts), Some("alice".into()));
        assert_ne!(a.facts_hash, c.facts_hash);
    }

    #[test]
    fn hash_ignores_list_order() {
        let mut facts = sample_facts();
        facts.network.push(Nic {
            name: "eno2".into(),
            mac: "b0:26:28:00:00:02".into(),
            driver: None,
        });
        let a = NodeDocument::new(&facts, node_id(&facts), None);
        facts.network.reverse();
        let b = NodeDocument::new(&facts, node_id(&facts), None);
        assert_eq!(a.facts_hash, b.facts_hash);
    }

    #[test]
    fn yaml_round_trips_and_verifies() {
        let facts = sample_facts();
        let doc = NodeDocument::new(&facts, node_id(&facts), Some("alice".into()));
        let parsed = NodeDocument::parse(&doc.to_yaml(), "node.yaml").unwrap();
        assert_eq!(parsed, doc);
    }

    #[test]
    fn hand_edit_is_detected() {
        let facts = sample_facts();
        let doc = NodeDocument::new(&facts, node_id(&facts), None);
        let edited = doc.to_yaml().replace("cores: 40", "cores: 48");
        let err = NodeDocument::parse(&edited, "cluster-nodes/x/node.yaml").unwrap_err();
        assert!(matches!(err, DocumentError::HashMismatch { .. }), "{err}");
        assert!(err.to_string().contains("cluster-nodes/x/node.yaml"));
    }

    #[test]
    fn unknown_schema_and_keys_are_rejected_with_location() {
        let err = NodeDocument::parse("schema: other/v9\n", "f.yaml").unwrap_err();
        assert!(matches!(err, DocumentError::Schema { .. }));
        let facts = sample_facts();
        let doc = NodeDocument::new(&facts, node_id(&facts), None);
        let extra = format!("{}color: blue\n", doc.to_yaml());
        let err = NodeDocument::parse(&extra, "f.yaml").unwrap_err();
        assert!(err.to_string().contains("color"), "{err}");
    }

    #[test]
    fn raw_identity_value_never_appears() {
        let facts = sample_facts();
        let doc = NodeDocument::new(&facts, node_id(&facts), None);
        for text in [doc.to_yaml(), doc.to_json(), doc.to_nix()] {
            assert!(!text.contains("4c4c4544"), "{text}");
        }
    }
}
