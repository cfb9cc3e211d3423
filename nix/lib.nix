# enlist's Nix library (the flake's `lib`): the registered fleet as NixOS configurations.
#
# Input is the fleet file `enlist export --nodes DIR --format nix` writes (one attribute per
# registered node: its node.yaml facts, its path, its inventory row): plain Nix, so the GitOps
# flake reads what the nodes reported without import-from-derivation and without parsing YAML.
# What a configuration makes of the facts (worker counts, memory limits, storage classes) is the
# user's modules' business; they read `config.enlist.node`.
{ lib }:
let
  # Nix system names of the CPU architectures node.yaml reports.
  systems = {
    x86_64 = "x86_64-linux";
    aarch64 = "aarch64-linux";
    riscv64 = "riscv64-linux";
  };

  # Declares `enlist.node`: this machine's registered facts, read-only.
  nodeOption =
    { lib, ... }:
    {
      _file = "${toString ./lib.nix}#nodeOption";
      options.enlist.node = lib.mkOption {
        type = lib.types.attrsOf lib.types.anything;
        readOnly = true;
        description = ''
          This machine's facts as registered with enlist (its node.yaml: `hostname`, `operator`,
          `system`, `cpu`, `memory`, `disks`, `network`, `gpus`, …), its `path` in the GitOps
          repository and, when the fleet file was exported with `--inventory`, its inventory row
          (`inventory.status`, `inventory.location`, `inventory.assetTag`). Set by
          `enlist.lib.nodeModule`; read it in your modules to derive settings from the hardware.
        '';
      };
    };
in
rec {
  # The fleet file's attribute set (a path to it, or the set itself).
  readFleet = fleet: if builtins.isAttrs fleet then fleet else import fleet;

  # The Nix system of a node (`x86_64-linux`, …), from the CPU architecture it registered.
  nodeSystem =
    node:
    systems.${node.cpu.arch}
      or (throw "enlist: node ${node.nodeId} reports CPU architecture `${node.cpu.arch}`, which has no Nix system name here");

  # The NixOS module for one node: `enlist.node` (its facts), and as defaults its hostname and
  # host platform, both from what it registered.
  nodeModule =
    node:
    { lib, ... }:
    {
      # Errors about what it defines name the node's registration (its node.yaml in the GitOps
      # repository), not `<unknown-file>`.
      _file = "${node.path or "cluster-nodes/${node.nodeId}/node.yaml"} (enlist.lib.nodeModule)";
      imports = [ nodeOption ];
      enlist.node = node;
      networking.hostName = lib.mkDefault node.hostname;
      nixpkgs.hostPlatform = lib.mkDefault (nodeSystem node);
    };

  # One NixOS configuration per registered node, keyed by hostname (`by = "nodeId"` keys them by
  # node id), each made by `nixosSystem` (nixpkgs' `lib.nixosSystem`) from the node's module and
  # `modules`. `filter` picks nodes (e.g. `node: node.operator == "ops"`, or
  # `node: (node.inventory.status or null) == "active"`).
  nixosConfigurations =
    {
      nixosSystem,
      fleet,
      modules ? [ ],
      specialArgs ? { },
      by ? "hostname",
      filter ? (_: true),
    }:
    let
      nodes = lib.filter filter (lib.attrValues (readFleet fleet));
      key = node: node.${by};
      # groupBy is linear: a fleet of 100,000 nodes is checked in a blink, not in minutes.
      duplicates = lib.attrNames (lib.filterAttrs (_: group: lib.length group > 1) (lib.groupBy key nodes));
    in
    if duplicates != [ ] then
      throw "enlist: several registered nodes share the ${by} ${lib.concatStringsSep ", " duplicates}; key the configurations by node id (by = \"nodeId\") or give them distinct names"
    else
      lib.listToAttrs (
        map (node: {
          name = key node;
          value = nixosSystem {
            inherit specialArgs;
            modules = [ (nodeModule node) ] ++ modules;
          };
        }) nodes
      );
}
