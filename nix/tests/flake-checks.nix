# Offline check of the flake's `checks` (tests/e2e/nixos_module.rs runs it with nixpkgs' lib): the
# outputs are evaluated with packages stubbed, and every system must offer the package and the
# three evaluation tests, each of which must pass here too (a stubbed `runCommand` forces the
# test it wraps). Evaluates to the list of check names, or throws with the failing test's message.
{ lib }:
let
  flake = import ../../flake.nix;
  stub = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = "enlist";
  };
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system: {
      stdenv.hostPlatform.system = system;
      callPackage = _: _: stub "enlist-0.1.0";
      runCommand = name: _env: script: stub name // { inherit script; };
    });
  };
  self = flake.outputs { inherit self nixpkgs; } // {
    outPath = ../../.;
  };
  names = lib.mapAttrs (_: lib.attrNames) self.checks;
in
assert lib.attrNames self.checks == lib.attrNames self.packages;
assert lib.all (checks: builtins.deepSeq (lib.mapAttrs (_: c: c.script or c.name) checks) true) (
  lib.attrValues self.checks
);
names
