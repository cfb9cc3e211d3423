# Evaluates the flake's `lib` (nix/lib.nix) on a fleet file with lib.evalModules alone: a
# stand-in for nixpkgs' `lib.nixosSystem` evaluates each node's modules plus a stand-in declaring
# the NixOS options they set, strictly. Used by tests/e2e/nixos_module.rs:
#
#   nix-instantiate --eval --strict --json nix/tests/fleet-eval.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' --arg fleet ./examples/gitops/cluster-nodes/fleet.nix
{ lib, fleet }:
let
  inherit (lib) mkOption types;
  # Through the flake's `lib` output, as a GitOps flake uses it (nothing else of the flake is
  # evaluated, so nixpkgs is nixpkgs' lib alone).
  flake = import ../../flake.nix;
  self = flake.outputs {
    inherit self;
    nixpkgs = {
      inherit lib;
      legacyPackages = { };
    };
  };
  enlist = self.lib;

  nixosStandIn = {
    options = {
      networking.hostName = mkOption { type = types.str; };
      nixpkgs.hostPlatform = mkOption { type = types.str; };
      nix.settings = mkOption {
        type = types.submodule {
          freeformType = types.attrsOf types.anything;
          options.max-jobs = mkOption { type = types.either types.int (types.enum [ "auto" ]); };
        };
        default = { };
      };
      zramSwap.enable = mkOption {
        type = types.bool;
        default = false;
      };
      services.prometheus.retentionTime = mkOption { type = types.str; };
    };
  };
  nixosSystem =
    { modules, specialArgs }:
    lib.evalModules {
      inherit specialArgs;
      modules = modules ++ [ nixosStandIn ];
    };

  # What a configuration made of its node, as the test compares it with the node.yaml files.
  summary = system: {
    inherit (system.config.networking) hostName;
    inherit (system.config.nixpkgs) hostPlatform;
    nodeId = system.config.enlist.node.nodeId;
    maxJobs = system.config.nix.settings.max-jobs;
    zram = system.config.zramSwap.enable;
    storageClass = system.config.cluster.storageClass;
    retention = system.config.services.prometheus.retentionTime;
  };

  configurations =
    args:
    enlist.nixosConfigurations (
      {
        inherit nixosSystem fleet;
        modules = [ ../../examples/gitops/hardware-classes.nix ];
      }
      // args
    );
  attempt = value: (builtins.tryEval (builtins.deepSeq value value)).success;
in
{
  byHostname = lib.mapAttrs (_: summary) (configurations { });
  byNodeId = lib.attrNames (configurations { by = "nodeId"; });
  # A filter on the facts (here: one vendor's machines).
  supermicroOnly = lib.attrNames (configurations {
    filter = node: node.system.vendor == "Supermicro";
  });
  # Two nodes with one hostname cannot both be `nixosConfigurations.<hostname>`: refused.
  duplicateHostnames = attempt (
    lib.attrNames (
      configurations {
        fleet = lib.mapAttrs (_: node: node // { hostname = "same"; }) (enlist.readFleet fleet);
      }
    )
  );
  # The option is read-only: a module cannot overwrite what the machine reported.
  overwriteRefused = attempt (
    lib.mapAttrs (_: summary) (configurations {
      modules = [
        ../../examples/gitops/hardware-classes.nix
        { enlist.node.hostname = "other"; }
      ];
    })
  );
}
