# Evaluates the flake's `lib` (nix/lib.nix) on a fleet file with lib.evalModules alone: a
# stand-in for nixpkgs' `lib.nixosSystem` evaluates each node's modules plus a stand-in declaring
# the NixOS options they set, strictly. Used by tests/e2e/nixos_module.rs:
#
#   nix-instantiate --eval --strict --json nix/tests/fleet-eval.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' --arg fleet ./examples/gitops/cluster-nodes/fleet.nix \
#     -A observed
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

  nixosStandIn =
    { config, ... }:
    {
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
        fileSystems = mkOption {
          type = types.attrsOf (
            types.submodule {
              options = {
                device = mkOption { type = types.str; };
                fsType = mkOption { type = types.str; };
                options = mkOption {
                  type = types.listOf types.str;
                  default = [ ];
                };
              };
            }
          );
          default = { };
        };
        # As in NixOS: GRUB is on unless another boot loader turns it off, and then needs a disk.
        boot.loader.grub.enable = mkOption {
          type = types.bool;
          default = true;
        };
        boot.loader.grub.devices = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        boot.loader.systemd-boot.enable = mkOption {
          type = types.bool;
          default = false;
        };
        boot.loader.efi.canTouchEfiVariables = mkOption {
          type = types.bool;
          default = false;
        };
      };
      config.boot.loader.grub.enable = lib.mkIf config.boot.loader.systemd-boot.enable (
        lib.mkDefault false
      );
    };
  nixosSystem =
    { modules, specialArgs }:
    lib.evalModules {
      inherit specialArgs;
      modules = modules ++ [ nixosStandIn ];
    };

  # What a configuration made of its node, as the test compares it with the node.yaml files.
  # `bootable` and `rootFileSystem` are the two checks a real NixOS toplevel makes that the
  # example once failed ("The ‘fileSystems’ option does not specify your root file system", "You
  # must set the option ‘boot.loader.grub.devices’").
  summary = system: {
    rootFileSystem = system.config.fileSystems ? "/";
    bootable =
      !system.config.boot.loader.grub.enable || system.config.boot.loader.grub.devices != [ ];
    fileSystems = lib.mapAttrs (_: fs: { inherit (fs) device fsType; }) system.config.fileSystems;
    systemdBoot = system.config.boot.loader.systemd-boot.enable;
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

  byHostname = lib.mapAttrs (_: summary) (configurations { });
  nodes = lib.attrValues (enlist.readFleet fleet);
  # For `nix flake check` (the root flake's checks.<system>.fleet): each node is a configuration
  # that passes a toplevel's root file system and boot loader checks, under its own hostname,
  # and the refusals refuse. The Rust test compares every value with the node.yaml files.
  failures =
    lib.concatMap (
      node:
      let
        built = byHostname.${node.hostname} or null;
      in
      if built == null then
        [ "${node.nodeId}: no configuration named ${node.hostname}" ]
      else
        lib.optional (!built.rootFileSystem) "${node.hostname}: no root file system"
        ++ lib.optional (!built.bootable) "${node.hostname}: no boot loader"
        ++ lib.optional (built.nodeId != node.nodeId) "${node.hostname}: the facts of ${built.nodeId}"
    ) nodes
    ++ lib.optional (lib.length nodes != lib.length (lib.attrNames byHostname)) "not one configuration per node"
    ++ lib.optional duplicateHostnames "two nodes with one hostname were accepted"
    ++ lib.optional overwriteRefused "a module overwrote the registered facts";
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
in
{
  # What the test compares with the node.yaml files (`-A observed`).
  observed = {
    inherit byHostname duplicateHostnames overwriteRefused;
    byNodeId = lib.attrNames (configurations { by = "nodeId"; });
    # A filter on the facts (here: one vendor's machines).
    supermicroOnly = lib.attrNames (configurations {
      filter = node: node.system.vendor == "Supermicro";
    });
  };
  # True, or a throw listing what is wrong.
  check = failures == [ ] || throw "nix/tests/fleet-eval.nix:\n${lib.concatStringsSep "\n" failures}";
  # Not caught: `-A raw.overwrite` fails with the module system's message, which names the node's
  # file (nodeModule's `_file`).
  raw.overwrite = lib.mapAttrs (_: summary) (configurations {
    filter = node: node.hostname == "r640-a01";
    modules = [
      ../../examples/gitops/hardware-classes.nix
      { enlist.node.hostname = "other"; }
    ];
  });
}
