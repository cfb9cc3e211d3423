# The GitOps repository's flake: every registered node gets a NixOS configuration built from the
# facts it reported. cluster-nodes/fleet.nix is generated (`enlist export --nodes . --format nix
# > cluster-nodes/fleet.nix`) and kept honest by CI (`enlist export … --check`).
{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.enlist.url = "github:enlist-dev/enlist";
  inputs.enlist.inputs.nixpkgs.follows = "nixpkgs";

  outputs =
    { nixpkgs, enlist, ... }:
    {
      # nixosConfigurations.<hostname>, e.g. `nixos-rebuild switch --flake .#r640-a01`.
      nixosConfigurations = enlist.lib.nixosConfigurations {
        inherit (nixpkgs.lib) nixosSystem;
        fleet = ./cluster-nodes/fleet.nix;
        modules = [
          enlist.nixosModules.default
          ./hardware-classes.nix
          # ./common.nix: what every node shares (users, SSH keys, services.enlist.settings, …).
        ];
      };
    };
}
