# Offline check of the flake's `apps` (tests/e2e/preview.rs runs it when ENLIST_NIXPKGS_LIB names a
# nixpkgs `lib` directory): the flake's outputs are evaluated with nixpkgs' lib alone, packages
# stubbed, and every system must offer `apps.default` running bin/enlist, as the README's
# `nix run github:enlist-dev/enlist -- register --target /mnt` needs. Evaluates to true or throws.
{ lib }:
let
  flake = import ../../flake.nix;
  stubPackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    outputs = [ "out" ];
    outputName = "out";
    meta.mainProgram = "enlist";
  };
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system: {
      stdenv.hostPlatform.system = system;
      callPackage = _: _: stubPackage "enlist-0.1.0";
    });
  };
  self = flake.outputs { inherit self nixpkgs; } // {
    outPath = ../../.;
  };
  check =
    system: app:
    let
      expected = "${self.packages.${system}.default}/bin/enlist";
    in
    if app.default.type != "app" then
      throw "apps.${system}.default.type is ${app.default.type}, not app"
    else if app.default.program != expected then
      throw "apps.${system}.default.program is ${app.default.program}, not ${expected}"
    else if !(app.default ? meta.description) then
      throw "apps.${system}.default has no meta.description (nix flake check warns)"
    else
      true;
in
assert lib.attrNames self.apps == lib.attrNames self.packages;
lib.all lib.id (lib.mapAttrsToList check self.apps)
