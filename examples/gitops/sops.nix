# .sops.yaml for this repository, built from the registered fleet: cluster-nodes/fleet.nix
# (`enlist export --format nix`) carries each node's age recipient, derived from the SSH ed25519
# host key the node registered with. A node can read the secrets meant for it as soon as its
# registration is merged: no ssh-keyscan, no ssh-to-age, no second deploy.
#
#   nix-instantiate --eval --strict --json sops.nix | jq -S . > .sops.yaml
#
# JSON is YAML: sops reads the file as it is. The `enlist fleet.nix` workflow regenerates it
# with fleet.nix; when it changed, re-encrypt with an admin key: `sops updatekeys secrets/*.yaml`.
# On the nodes, sops-nix decrypts with the host key itself (`sops.age.sshKeyPaths`).
let
  fleet = import ./cluster-nodes/fleet.nix;
  # The operators' own age recipients (`age-keygen`): they can always decrypt and re-encrypt.
  admins = [ "age1yez7puqxnlhjfayl75jekcg7vs4ss0zprsa5katggade7pzf455sysh205" ];
  # Nodes with a recipient: one that registered before sshd made its keys has none yet (its next
  # run proposes them; once merged, it appears here).
  nodes = builtins.filter (node: node.ageRecipient != null) (builtins.attrValues fleet);
  rule = pathRegex: recipients: {
    path_regex = pathRegex;
    key_groups = [ { age = recipients; } ];
  };
in
{
  creation_rules =
    # secrets/nodes/<node-id>.yaml: one node's own secrets (node ids are [a-z0-9-]).
    map (node: rule "^secrets/nodes/${node.nodeId}\\.yaml$" (admins ++ [ node.ageRecipient ])) nodes
    # secrets/fleet.yaml: what every registered node may read.
    ++ [ (rule "^secrets/fleet\\.yaml$" (admins ++ map (node: node.ageRecipient) nodes)) ];
}
