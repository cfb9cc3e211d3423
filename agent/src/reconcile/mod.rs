//! `enlist reconcile`: runs in the GitOps repository's CI (SPEC §5). Not implemented yet.
