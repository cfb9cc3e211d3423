# Settings derived from what each machine registered (`config.enlist.node`, set by
# enlist.lib.nodeModule from cluster-nodes/fleet.nix). The classes are this repository's choice,
# not enlist's: change the thresholds, add your own.
#
# Every class boots the same way, so each node is a configuration that builds: the root file
# system and the EFI system partition by label, as the NixOS manual's installation partitions a
# disk (`mkfs.ext4 -L nixos`, `mkfs.fat -F 32 -n boot`), and systemd-boot.
{ config, lib, ... }:
let
  node = config.enlist.node;
  gib = 1024 * 1024 * 1024;
  tb = 1000 * 1000 * 1000 * 1000;

  memoryGiB = node.memory.totalBytes / gib;
  # Solid-state capacity only: spinning disks are for bulk data, not for builds or databases.
  flashBytes = lib.foldl' (sum: disk: sum + disk.sizeBytes) 0 (
    lib.filter (disk: !disk.rotational) node.disks
  );
  storageClass =
    if flashBytes >= 10 * tb then
      "large"
    else if flashBytes >= 2 * tb then
      "medium"
    else
      "small";
in
{
  options.cluster.storageClass = lib.mkOption {
    type = lib.types.enum [
      "small"
      "medium"
      "large"
    ];
    readOnly = true;
    description = "This machine's storage class, from the flash capacity it registered.";
  };

  config = {
    cluster.storageClass = storageClass;

    # Every model registered here boots UEFI. A class of machines that boots legacy BIOS would
    # set `boot.loader.grub.devices` (the disk, by id) instead of systemd-boot and /boot.
    fileSystems."/" = lib.mkDefault {
      device = "/dev/disk/by-label/nixos";
      fsType = "ext4";
    };
    fileSystems."/boot" = lib.mkDefault {
      device = "/dev/disk/by-label/boot";
      fsType = "vfat";
      # The ESP holds systemd-boot's random seed: readable by root only.
      options = [
        "fmask=0077"
        "dmask=0077"
      ];
    };
    boot.loader.systemd-boot.enable = lib.mkDefault true;
    boot.loader.efi.canTouchEfiVariables = lib.mkDefault true;

    # One build job per two hardware threads, at least one.
    nix.settings.max-jobs = lib.mkDefault (lib.max 1 (node.cpu.threads / 2));
    # Compressed swap in RAM pays off on the small machines only.
    zramSwap.enable = lib.mkDefault (memoryGiB < 64);
    # Keep metrics as long as the disks allow.
    services.prometheus.retentionTime = lib.mkDefault (
      {
        small = "15d";
        medium = "90d";
        large = "365d";
      }
      .${storageClass}
    );
  };
}
