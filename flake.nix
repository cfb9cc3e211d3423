{
  description = "enlist: registers bare-metal NixOS nodes in a GitOps repository exactly once";

  # No flake.lock is committed yet: it was written on a machine without network access. The first
  # `nix flake lock` (or any build) pins nixpkgs; commit the lock file it writes.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      # Bare-metal fleet nodes; the agent reads Linux sysfs and runs under systemd.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (
        pkgs:
        let
          enlist = pkgs.callPackage ./nix/package.nix { };
        in
        {
          inherit enlist;
          default = enlist;
        }
      );

      # The installer's preview from a live ISO, without installing anything:
      #   nix run github:enlist-dev/enlist -- register --target /mnt
      # (what the first boot of the system mounted at /mnt will propose; nothing is written).
      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          meta.description = "enlist (e.g. `register --target /mnt`: preview the first boot's registration)";
        };
      });

      # For users who want pkgs.enlist built with their own nixpkgs (and for nix/module.nix used
      # without the flake, whose `package` option defaults to pkgs.enlist).
      overlays.default = final: _prev: {
        enlist = final.callPackage ./nix/package.nix { };
      };

      # The module plus a default for its package: this flake's build, made with the nixpkgs this
      # flake pins, whose rustc is new enough for the crate (edition 2024, rust-version 1.89); a
      # host's older nixpkgs may not be.
      # Chosen over setting nixpkgs.overlays here: an overlay changes the host's whole package set
      # behind its back, and hosts using nixpkgs' readOnlyPkgs module reject it ("nixpkgs.overlays
      # is set to read-only"). A mkDefault is visible in `services.enlist.package` and is
      # overridden by one assignment, e.g. `pkgs.enlist` after adding overlays.default.
      nixosModules.default =
        { lib, pkgs, ... }:
        let
          inherit (pkgs.stdenv.hostPlatform) system;
        in
        {
          _file = "${self.outPath}/flake.nix#nixosModules.default";
          imports = [ ./nix/module.nix ];
          # Systems without a prebuilt output (say riscv64) build it with the host's nixpkgs.
          services.enlist.package = lib.mkDefault (
            self.packages.${system}.default or (pkgs.callPackage ./nix/package.nix { })
          );
        };

      # The registered fleet as NixOS configurations (nix/lib.nix): from the fleet file that
      # `enlist export --format nix` writes, one configuration per node with its facts under
      # `config.enlist.node`. Pure Nix, no import-from-derivation.
      lib = import ./nix/lib.nix { inherit lib; };

      # `nix flake check`: the package (its build runs the enlist crate's tests) and the Nix
      # evaluation tests of nix/tests/, each a derivation that exists only when its test evaluates
      # to true (else the check fails with the test's message). CI evaluates the same files with
      # its older Nix (tests/e2e/nixos_module.rs, tests/e2e/preview.rs) and checks these outputs
      # (nix/tests/flake-checks.nix).
      checks = forAllSystems (
        pkgs:
        let
          passed = name: test: pkgs.runCommand "enlist-${name}" { } (assert test; "touch $out");
        in
        {
          inherit (self.packages.${pkgs.stdenv.hostPlatform.system}) enlist;
          # The NixOS module: accepted and refused configurations (nix/module.nix).
          module-eval = passed "module-eval" (import ./nix/tests/module-eval.nix { inherit lib; }).check;
          # The flake's lib on the example fleet: one bootable configuration per node.
          fleet-eval = passed "fleet-eval" (
            import ./nix/tests/fleet-eval.nix {
              inherit lib;
              fleet = ./examples/gitops/cluster-nodes/fleet.nix;
            }
          ).check;
          # `nix run` offers the binary on every system.
          flake-apps = passed "flake-apps" (import ./nix/tests/flake-apps.nix { inherit lib; });
        }
      );
    };
}
