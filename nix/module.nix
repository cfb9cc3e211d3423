# NixOS module: services.enlist registers the node in the cluster GitOps repository on first boot.
#
# The unit mirrors systemd/enlist.service (same ordering, restart policy and hardening); keep the
# two in step. The package defaults to pkgs.enlist: the flake's nixosModules.default points it at
# the flake's own build, a non-flake user adds overlays.default or sets `package`.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.enlist;

  # Whether NixOS generates SSH host keys on this machine (`generateHostKeys` is newer nixpkgs'
  # switch; it defaults to services.openssh.enable).
  sshKeysGenerated =
    config.services.openssh.enable || (config.services.openssh.generateHostKeys or false);

  settingsFormat = pkgs.formats.yaml { };

  # Options left at null mean "the binary's default" (e.g. the repository's default branch): they
  # are dropped rather than written as `key: null`.
  configFile = settingsFormat.generate "enlist.yaml" (
    lib.filterAttrs (_: value: value != null) cfg.settings
  );

  # The start jitter of a run systemd started when start_jitter_secs is not set: the binary's
  # UNATTENDED_START_JITTER_SECS (the end-to-end tests compare the two).
  unattendedStartJitterSecs = 300;
  startJitterSecs =
    if cfg.settings.start_jitter_secs == null then
      unattendedStartJitterSecs
    else
      cfg.settings.start_jitter_secs;

  # The unit's start timeout: the start jitter, then the run's deadline (run_timeout_secs, which
  # bounds the lock wait, readiness, requests and rate-limit waits), plus one
  # request_timeout_secs for revoking a GitHub App token after the deadline (one request,
  # bounded by that timeout alone), plus this half minute for facts and marker. With the
  # defaults 300 + 840 + 30 + 30 s: the 20 min of the plain unit (systemd/enlist.service
  # documents the same relation). systemd then never kills a run before it reports.
  startTimeoutBaseSecs = 30;
  startTimeoutSecs =
    startJitterSecs
    + cfg.settings.run_timeout_secs
    + cfg.settings.request_timeout_secs
    + startTimeoutBaseSecs;

  # Exit codes after which a restart cannot help (everything but 69, 73, 75); the same list as
  # systemd/enlist.service, which the module test compares.
  restartPreventExitStatus = "1 2 64 65 70 71 76 77 78 243 SIGABRT";

  # externalPath (nixpkgs lib since late 2025) rejects path literals and store paths at the
  # definition; on older nixpkgs a string plus the assertions below do the same job.
  externalPathType = lib.types.externalPath or lib.types.str;

  # Every key enlist's config file accepts, as `enlist config-keys` prints them (declared once, in
  # `settings!`; the end-to-end tests fail while this file is stale). Another key would make the
  # first boot exit 78, final until the next boot: refused here, at evaluation, instead.
  configKeys = import ./config-keys.nix;

  # Keys enlist accepts whose value the module hands over itself, through an option that keeps the
  # file out of the store (LoadCredential=) and checks its path: the option to use instead.
  credentialKeys = {
    token_file = "services.enlist.tokenFile";
    github_app_key_file = "services.enlist.githubApp.keyFile";
  };

  # A key named for a credential value (`token`, `github_token`, `private_key`, `password`, …):
  # `settings` is written to the world-readable Nix store, so the value would be too.
  namesASecret =
    key:
    builtins.match ".*(token|key|secret|passw|jwt|credential|pem).*" (lib.toLower key) != null;

  # Known keys within two edits of `key` (nixpkgs lib without levenshtein: none).
  nearKeys =
    key:
    if lib.strings ? levenshteinAtMost then
      lib.filter (known: lib.strings.levenshteinAtMost 2 key known) configKeys
    else
      [ ];

  # Why `services.enlist.settings.<key>` is refused, or null when it is fine.
  refusal =
    key:
    let
      option = "services.enlist.settings.${key}";
      near = nearKeys key;
    in
    if credentialKeys ? ${key} then
      "${option}: set ${credentialKeys.${key}} instead; it hands the file to the unit with LoadCredential= (it may stay root-only) and checks that it lies outside the Nix store."
    else if lib.elem key configKeys then
      null
    else if namesASecret key then
      "${option}: a credential does not go into settings, which are written to the world-readable Nix store (and enlist reads no such key). Keep it in a root-only file outside the store and set services.enlist.tokenFile (a token), or services.enlist.githubApp.id and services.enlist.githubApp.keyFile (a GitHub App and its private key)."
    else
      "${option}: enlist has no such setting${
        lib.optionalString (near != [ ]) " (did you mean ${lib.concatMapStringsSep " or " (k: "`${k}`") near}?)"
      }; with it the first boot would exit 78. enlist's settings: ${lib.concatStringsSep ", " configKeys}.";
in
{
  options.services.enlist = {
    enable = lib.mkEnableOption "enlist, which registers this node in the cluster GitOps repository";

    package = lib.mkPackageOption pkgs "enlist" { };

    settings = lib.mkOption {
      description = ''
        Configuration for `enlist register`, written to a YAML file in the store and passed with
        `--config`. Keys are the snake_case config keys of enlist; any other key is refused at
        evaluation (enlist itself would exit 78 at the first boot). Never put a credential here:
        use {option}`services.enlist.tokenFile` or {option}`services.enlist.githubApp.keyFile`.
      '';
      default = { };
      example = {
        repo = "example-org/cluster";
        operator = "alice";
        path_template = "maintainers/{operator}/cluster-nodes/{node_id}/node.yaml";
        labels = [ "registration" ];
      };
      type = lib.types.submodule {
        freeformType = settingsFormat.type;

        options = {
          repo = lib.mkOption {
            type = lib.types.str;
            example = "example-org/cluster";
            description = "The GitOps repository, as `OWNER/NAME`.";
          };

          operator = lib.mkOption {
            type = lib.types.nullOr lib.types.str;
            default = null;
            example = "alice";
            description = ''
              Operator recorded in node.yaml, and `{operator}` in
              {option}`services.enlist.settings.path_template`.
            '';
          };

          api_url = lib.mkOption {
            type = lib.types.str;
            default = "https://api.github.com";
            example = "https://github.example.com/api/v3";
            description = "GitHub REST API base URL (GitHub Enterprise Server: `https://HOST/api/v3`).";
          };

          path_template = lib.mkOption {
            type = lib.types.str;
            default = "cluster-nodes/{node_id}/node.yaml";
            example = "maintainers/{operator}/cluster-nodes/{node_id}/node.yaml";
            description = ''
              Where node.yaml goes in the repository. Placeholders: `{operator}`, `{node_id}`,
              `{hostname}`.
            '';
          };

          base_branch = lib.mkOption {
            type = lib.types.nullOr lib.types.str;
            default = null;
            example = "main";
            description = "Branch the pull request targets; null means the repository's default branch.";
          };

          labels = lib.mkOption {
            type = lib.types.listOf lib.types.str;
            default = [ ];
            example = [ "registration" ];
            description = "Labels put on the registration pull request.";
          };

          readiness_timeout_secs = lib.mkOption {
            type = lib.types.ints.positive;
            default = cfg.readinessTimeout;
            defaultText = lib.literalExpression "config.services.enlist.readinessTimeout";
            description = "Set through {option}`services.enlist.readinessTimeout`.";
          };

          auto_merge = lib.mkOption {
            type = lib.types.enum [
              "squash"
              "merge"
              "rebase"
              "off"
            ];
            default = "squash";
            description = ''
              After opening its pull request, the node turns on GitHub auto-merge with this merge
              method: GitHub merges once the base branch's rules hold (require the reconcile check,
              and allow auto-merge, in the repository). enlist never merges directly. `off`: a
              person merges (or the repository's workflow turns auto-merge on, for large
              bring-ups).
            '';
          };

          auto_merge_updates = lib.mkOption {
            type = lib.types.bool;
            default = false;
            description = ''
              Also auto-merge the pull requests that update a registered node's facts (a DIMM or
              disk died, a NIC was swapped). Off by default: a hardware event is for a person.
            '';
          };

          run_timeout_secs = lib.mkOption {
            type = lib.types.ints.positive;
            default = 840;
            description = ''
              One deadline over a whole run: the lock wait, the readiness wait, every request
              including its body, and rate-limit waits (each keeps its own budget inside it). It
              starts after the start jitter. Past it enlist exits 69 (GitHub never answered) or
              75. The unit's start timeout is the start jitter plus this plus
              `request_timeout_secs` plus ${toString startTimeoutBaseSecs} seconds.
            '';
          };

          start_jitter_secs = lib.mkOption {
            type = lib.types.nullOr lib.types.ints.unsigned;
            default = null;
            description = ''
              Random delay (0 to this many seconds) before a run's first request, to spread a
              rack powered on together; the run's deadline starts after it. `null`: enlist's
              default, ${toString unattendedStartJitterSecs} s for runs systemd starts (the unit,
              the timer) and none at a terminal. Keep it below `run_timeout_secs`.
            '';
          };

          request_timeout_secs = lib.mkOption {
            type = lib.types.ints.positive;
            default = 30;
            description = ''
              Per-request timeout (connecting, each read or write). Revoking a GitHub App token
              at the end of a run is bounded by it alone, also past the run's deadline: the
              unit's start timeout counts it in.
            '';
          };
        };
      };
    };

    tokenFile = lib.mkOption {
      type = lib.types.nullOr externalPathType;
      default = null;
      example = "/run/secrets/enlist/github-token";
      description = ''
        Absolute path of a file holding the GitHub token (a fine-grained token with contents and
        pull-request write access to {option}`services.enlist.settings.repo`). It is handed to the
        unit with `LoadCredential=`, so it may stay root-only and is never copied into the Nix
        store; give it as a string, not a path literal. Deploy it with a secret manager (sops-nix,
        agenix) and list that manager's unit in {option}`services.enlist.after`. Set this or
        {option}`services.enlist.githubApp.id`, not both.
      '';
    };

    githubApp = {
      id = lib.mkOption {
        # Not an empty string: that would pass evaluation and fail every run.
        type = lib.types.nullOr (lib.types.either lib.types.ints.positive lib.types.nonEmptyStr);
        default = null;
        example = "Iv23liAbCdEf0123";
        description = ''
          Authenticate as this GitHub App (its App id or its client id, from the App's settings
          page) instead of with {option}`services.enlist.tokenFile`: each run mints one
          installation token for the repository and revokes it at the end. Becomes
          `github_app_id` in the config file (it is not a secret).
        '';
      };

      keyFile = lib.mkOption {
        type = lib.types.nullOr externalPathType;
        default = null;
        example = "/run/secrets/enlist/github-app-key.pem";
        description = ''
          Absolute path of the GitHub App's private key (the `.pem` file GitHub generates;
          PKCS#8 works too). Handed to the unit as the credential `github-app-key`
          (`LoadCredential=`), so it may stay root-only and is never copied into the Nix store;
          give it as a string, not a path literal. Required with
          {option}`services.enlist.githubApp.id`.
        '';
      };

      installationId = lib.mkOption {
        type = lib.types.nullOr lib.types.ints.positive;
        default = null;
        example = 55500001;
        description = ''
          The App's installation on the repository's owner (the number in the installation's
          settings URL). Optional: without it each run looks it up (one more request).
        '';
      };
    };

    after = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "sops-install-secrets.service" ];
      description = ''
        Extra units to order enlist after and to pull in (`After=` and `Wants=`), typically the
        unit that restores {option}`services.enlist.tokenFile` (a secret written by the NixOS
        activation script exists before any unit starts and needs no entry). To make their
        failure fatal to enlist, add them to `systemd.services.enlist.requires` as well; without
        that, a token that never appears fails the unit with 243/CREDENTIALS (no restart).
      '';
    };

    wants = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "systemd-time-wait-sync.service" ];
      description = ''
        Extra units to pull in (`Wants=`) without ordering against them. For example
        `systemd-time-wait-sync.service` makes `time-sync.target` (which enlist is ordered after)
        wait for a real NTP synchronisation; without reachable NTP it then waits forever.
      '';
    };

    timer = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = ''
          Re-run `enlist register` from a timer (15 min after boot, then an hour after each run
          ends, with up to 15 min of random delay) until the registration is final: a pending node
          sees its PR merged, rejected, or its check fail without waiting for a reboot, and a node
          whose network came up late registers within the hour. A registered node makes no
          request at all, so leaving it on costs nothing. Same as systemd/enlist.timer.
        '';
      };

      interval = lib.mkOption {
        type = lib.types.str;
        default = "1h";
        example = "30min";
        description = ''
          `OnUnitInactiveSec=`: how long after a run ends the next one starts (a systemd time
          span). While GitHub stays unreachable or rate-limited, enlist spaces its attempts out
          further by itself (up to a day).
        '';
      };
    };

    readinessTimeout = lib.mkOption {
      type = lib.types.ints.positive;
      default = 600;
      description = ''
        Seconds enlist waits for the GitHub API to become reachable before giving up with exit
        code 69 (retried by the unit 5 minutes later). Becomes `readiness_timeout_secs`; it lies
        within `settings.run_timeout_secs`, the run's deadline.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = (cfg.tokenFile != null) != (cfg.githubApp.id != null);
        message = "services.enlist needs exactly one way to authenticate: tokenFile, or githubApp.id with githubApp.keyFile.";
      }
      {
        assertion = (cfg.githubApp.id != null) == (cfg.githubApp.keyFile != null);
        message = "services.enlist.githubApp.id and services.enlist.githubApp.keyFile go together: the App's id and its private key.";
      }
      {
        assertion = cfg.githubApp.installationId == null || cfg.githubApp.id != null;
        message = "services.enlist.githubApp.installationId is set without services.enlist.githubApp.id.";
      }
      {
        assertion =
          cfg.tokenFile == null
          || (lib.hasPrefix "/" cfg.tokenFile && !lib.hasPrefix "${builtins.storeDir}/" cfg.tokenFile);
        message = "services.enlist.tokenFile must be an absolute path outside the Nix store (got `${toString cfg.tokenFile}`); a secret in the store is readable by every user.";
      }
      {
        assertion =
          cfg.githubApp.keyFile == null
          || (
            lib.hasPrefix "/" cfg.githubApp.keyFile
            && !lib.hasPrefix "${builtins.storeDir}/" cfg.githubApp.keyFile
          );
        message = "services.enlist.githubApp.keyFile must be an absolute path outside the Nix store (got `${toString cfg.githubApp.keyFile}`); a secret in the store is readable by every user.";
      }
      {
        assertion = builtins.match "[^/[:space:]]+/[^/[:space:]]+" cfg.settings.repo != null;
        message = "services.enlist.settings.repo must look like OWNER/NAME (got `${cfg.settings.repo}`).";
      }
      {
        # enlist refuses it at every boot with exit 78 (final until the next boot): refused here.
        assertion = startJitterSecs < cfg.settings.run_timeout_secs;
        message = "services.enlist.settings.start_jitter_secs (${toString startJitterSecs}) must be below services.enlist.settings.run_timeout_secs (${toString cfg.settings.run_timeout_secs}): it only spreads when a fleet's runs start.";
      }
      {
        # The sandbox (ProtectSystem=strict) only lets the unit write its StateDirectory=.
        assertion = !(cfg.settings ? state_dir) || cfg.settings.state_dir == "/var/lib/enlist";
        message = "services.enlist.settings.state_dir cannot be changed: the unit may only write /var/lib/enlist (StateDirectory=).";
      }
    ]
    # One per key the binary would refuse, or that would put a credential into the store.
    ++ lib.concatMap (
      key:
      lib.optional (refusal key != null) {
        assertion = false;
        message = refusal key;
      }
    ) (lib.attrNames cfg.settings);

    # The App's ids are configuration, not secrets; its key comes as a credential (below).
    services.enlist.settings = lib.mkIf (cfg.githubApp.id != null) (
      {
        github_app_id = toString cfg.githubApp.id;
      }
      // lib.optionalAttrs (cfg.githubApp.installationId != null) {
        github_app_installation_id = cfg.githubApp.installationId;
      }
    );

    # For interactive use on the node: `enlist status`, `enlist register --dry-run` with the same
    # settings. The service itself does not read /etc; it is given the file with --config.
    environment.systemPackages = [ cfg.package ];
    environment.etc."enlist/config.yaml".source = configFile;

    systemd.services.enlist = {
      description = "Register this node in the cluster GitOps repository (enlist)";
      documentation = [ "https://github.com/enlist-dev/enlist" ];
      wantedBy = [ "multi-user.target" ];

      # network-online: the PR needs a routable network (nixpkgs warns on After= without Wants=).
      # time-sync: TLS needs a sane clock. cfg.after: the credential-restore unit(s).
      wants = [
        "network-online.target"
        "time-sync.target"
      ]
      ++ cfg.after
      ++ cfg.wants;
      after = [
        "network-online.target"
        "time-sync.target"
      ]
      ++ cfg.after
      # The node.yaml records the SSH host keys, which NixOS generates on the first boot: after
      # the unit that does it, so the first registration has them (else a later run adds them as
      # drift). Recent nixpkgs run sshd-keygen.service (a oneshot wanted by
      # multi-user.target, also with startWhenNeeded); older ones generate them in
      # sshd.service's preStart. After= on a unit that does not exist orders nothing.
      ++ lib.optionals sshKeysGenerated [
        "sshd-keygen.service"
        "sshd.service"
      ];

      # A first-boot oneshot: `nixos-rebuild switch` must not run it again because its unit text
      # changed. The marker makes a rerun harmless, but it would still cost API calls for nothing.
      restartIfChanged = false;

      unitConfig = {
        # The boot run plus two retries 5 min apart after exit 69/75, then failed until the next
        # boot; see systemd/enlist.service.
        StartLimitIntervalSec = "1h";
        StartLimitBurst = 3;
      };

      serviceConfig = {
        Type = "oneshot";
        # No RemainAfterExit: the unit goes inactive after each run, so the timer can start it
        # again (the last STATUS= text stays in `systemctl status enlist` until the next run).
        # Without it a oneshot gets no NOTIFY_SOCKET and STATUS= is lost.
        NotifyAccess = "main";
        ExecStart = "${lib.getExe cfg.package} register --config ${configFile}";
        TimeoutStartSec = "${toString startTimeoutSecs}s";

        # Retry 69 (GitHub unreachable), 73 (state directory unusable) and 75 (temporary failure)
        # only. Type=oneshot refuses the allow-list RestartForceExitStatus=, hence on-failure
        # minus every other code (see systemd/enlist.service for each one's reason).
        Restart = "on-failure";
        RestartPreventExitStatus = restartPreventExitStatus;
        RestartSec = "5min";

        # $STATE_DIRECTORY = /var/lib/enlist: marker and lock file.
        StateDirectory = "enlist";
        StateDirectoryMode = "0700";
        # Read by the binary as $CREDENTIALS_DIRECTORY/github-token or …/github-app-key.
        LoadCredential =
          lib.optional (cfg.tokenFile != null) "github-token:${toString cfg.tokenFile}"
          ++ lib.optional (
            cfg.githubApp.keyFile != null
          ) "github-app-key:${toString cfg.githubApp.keyFile}";

        # Hardening, as in systemd/enlist.service (see the reasoning there). Root without any
        # capability: the 0400 root-owned DMI files are readable through the owner bits alone.
        CapabilityBoundingSet = "";
        AmbientCapabilities = "";
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        # Not ProcSubset=pid: CPU and memory facts come from /proc/cpuinfo and /proc/meminfo.
        ProtectProc = "invisible";
        PrivateMounts = true;
        # AF_NETLINK: getifaddrs(3) for the interface addresses in the PR body.
        RestrictAddressFamilies = [
          "AF_UNIX"
          "AF_INET"
          "AF_INET6"
          "AF_NETLINK"
        ];
        RestrictNamespaces = true;
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [
          "@system-service"
          "~@privileged @resources"
        ];
        SystemCallErrorNumber = "EPERM";
        UMask = "0077";
      };
    };

    # Until the registration is final; see systemd/enlist.timer (the module test compares them).
    systemd.timers.enlist = lib.mkIf cfg.timer.enable {
      description = "Re-check this node's registration until it is final (enlist)";
      documentation = [ "https://github.com/enlist-dev/enlist" ];
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnBootSec = "15min";
        OnUnitInactiveSec = cfg.timer.interval;
        RandomizedDelaySec = "15min";
        Unit = "enlist.service";
      };
    };
  };

  meta.maintainers = [ ];
}
