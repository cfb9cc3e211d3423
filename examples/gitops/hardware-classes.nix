# Settings derived from what each machine registered (`config.enlist.node`, set by
# enlist.lib.nodeModule from cluster-nodes/fleet.nix). The classes are this repository's choice,
# not enlist's: change the thresholds, add your own.
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
