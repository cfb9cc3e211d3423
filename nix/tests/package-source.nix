# The package's source set as a list of files, computed from nix/package.nix's own `src` filter
# with nixpkgs' lib alone: no nixpkgs package set, nothing copied to the store (Nix 2.8
# evaluates it). .ci/run copies exactly these files into an empty directory and runs the package's
# test command there, which proves the crate builds and tests from its own sources:
#
#   nix-instantiate --eval --strict --json nix/tests/package-source.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' -A files
#
# `testFlags` is the package's `cargoTestFlags`, so the check runs what the package runs.
{ lib }:
let
  # buildRustPackage stand-in: the package's arguments as given.
  package = import ../package.nix {
    inherit lib;
    stdenv = { };
    rustPlatform.buildRustPackage = args: args;
    installShellFiles = null;
  };
  inherit (package) src;

  # What builtins.path does with the filter: a directory it rejects is not entered; symlinks are
  # kept as links, not followed.
  walk =
    dir:
    lib.concatLists (
      lib.mapAttrsToList (
        name: type:
        let
          path = "${dir}/${name}";
        in
        if !(src.filter path type) then
          [ ]
        else if type == "directory" then
          walk path
        else
          [ (lib.removePrefix "${toString src.origSrc}/" path) ]
      ) (builtins.readDir dir)
    );
in
{
  files = walk (toString src.origSrc);
  testFlags = package.cargoTestFlags;
}
