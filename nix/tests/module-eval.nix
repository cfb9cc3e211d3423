# Evaluates nix/module.nix with lib.evalModules alone: no nixpkgs package set, no NixOS. A
# stand-in module declares the few NixOS options enlist's module sets (strictly: a misspelt or
# unknown option fails the evaluation), and a stand-in `pkgs` provides what it reads.
#
#   nix-instantiate --eval --strict --json nix/tests/module-eval.nix \
#     --arg lib 'import /path/to/nixpkgs/lib'
#
# prints one JSON object with a result per scenario; tests/e2e/nixos_module.rs runs it (with
# ENLIST_NIXPKGS_LIB pointing at nixpkgs' lib/) and compares the generated unit with
# systemd/enlist.service. Nix 2.8 evaluates it (nixpkgs.lib as of nix-community/nixpkgs.lib de42d442).
{ lib }:
let
  inherit (lib) mkOption types;

  # What NixOS's systemd unit options accept as a value (simplified: no path coercion).
  unitValue = types.oneOf [
    types.bool
    types.int
    types.str
    (types.listOf types.str)
  ];
  unitList = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  commonUnitOptions = {
    description = mkOption {
      type = types.str;
      default = "";
    };
    documentation = unitList;
    wantedBy = unitList;
    requiredBy = unitList;
    wants = unitList;
    requires = unitList;
    after = unitList;
    before = unitList;
    unitConfig = mkOption {
      type = types.attrsOf unitValue;
      default = { };
    };
  };

  nixosStandIn = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      environment.etc = mkOption {
        type = types.attrsOf (types.submodule { options.source = mkOption { type = types.str; }; });
        default = { };
      };
      systemd.services = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = commonUnitOptions // {
              restartIfChanged = mkOption {
                type = types.bool;
                default = true;
              };
              serviceConfig = mkOption {
                type = types.attrsOf unitValue;
                default = { };
              };
            };
          }
        );
        default = { };
      };
      systemd.timers = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = commonUnitOptions // {
              timerConfig = mkOption {
                type = types.attrsOf unitValue;
                default = { };
              };
            };
          }
        );
        default = { };
      };
      meta.maintainers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      # Read to order enlist after the SSH host keys' generation (`generateHostKeys`: newer
      # nixpkgs; the module also works where it does not exist).
      services.openssh.enable = mkOption {
        type = types.bool;
        default = false;
      };
      services.openssh.generateHostKeys = mkOption {
        type = types.bool;
        default = false;
      };
    };
  };

  # The package and `pkgs.formats.yaml` as far as the module uses them.
  enlistPackage = {
    type = "derivation";
    name = "enlist-0.1.0";
    pname = "enlist";
    version = "0.1.0";
    outPath = "/nix/store/00000000000000000000000000000000-enlist-0.1.0";
    meta.mainProgram = "enlist";
  };
  # Named as nixpkgs names it (pkgs.formats.yaml's type is "YAML 1.1 value"): a recursive type's
  # generated description would never end, and the options page prints it.
  jsonValue =
    types.nullOr (
      types.oneOf [
        types.bool
        types.int
        types.float
        types.str
        (types.listOf jsonValue)
        (types.attrsOf jsonValue)
      ]
    )
    // {
      description = "YAML 1.1 value";
    };
  pkgs = {
    enlist = enlistPackage;
    formats.yaml = _: {
      type = types.attrsOf jsonValue;
      # The real one writes YAML into the store; the file name is all the unit sees.
      generate = name: _value: "/nix/store/00000000000000000000000000000000-${name}";
    };
  };

  evaluate =
    settings:
    lib.evalModules {
      modules = [
        ../module.nix
        nixosStandIn
        { _module.args = { inherit pkgs; }; }
        settings
      ];
    };

  # A scenario's observable result: what the module defines (and which assertions fail).
  result =
    settings:
    let
      config = (evaluate settings).config;
    in
    {
      failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
      service = config.systemd.services.enlist or null;
      timer = config.systemd.timers.enlist or null;
      etc = lib.mapAttrs (_: e: e.source) config.environment.etc;
      settings = if config.services.enlist.enable then config.services.enlist.settings else null;
    };

  # The same, or `evaluationFailed` when the module system refuses the scenario (a type error, a
  # required option left undefined). tryEval cannot say why; the test evaluates a refused
  # scenario once more through `raw` to read the error message.
  observe =
    settings:
    let
      attempt = builtins.tryEval (builtins.deepSeq (result settings) (result settings));
    in
    if attempt.success then attempt.value else { evaluationFailed = true; };

  tokenFile = "/run/secrets/github-token";
  base = {
    services.enlist = {
      enable = true;
      settings.repo = "acme/fleet";
      inherit tokenFile;
    };
  };

  appKeyFile = "/run/secrets/enlist/github-app-key.pem";
  appBase = {
    services.enlist = {
      enable = true;
      settings.repo = "acme/fleet";
      githubApp = {
        id = 424242;
        keyFile = appKeyFile;
        installationId = 5550001;
      };
    };
  };

  # Each scenario differs from `base` (which evaluates cleanly: see `enabled`), or the App
  # scenarios from `appBase` (see `app`), in one value, so a refusal is that value's.
  scenarios = {
    enabled = lib.recursiveUpdate base { services.enlist.after = [ "sops-install-secrets.service" ]; };
    disabled = {
      services.enlist.enable = false;
    };
    missingRepo = {
      services.enlist = {
        enable = true;
        inherit tokenFile;
      };
    };
    badRepo = lib.recursiveUpdate base { services.enlist.settings.repo = "not-a-repo"; };
    storeToken = lib.recursiveUpdate base {
      services.enlist.tokenFile = "/nix/store/00000000000000000000000000000000-github-token";
    };
    relativeToken = lib.recursiveUpdate base { services.enlist.tokenFile = "secrets/token"; };
    pathLiteralToken = lib.recursiveUpdate base { services.enlist.tokenFile = ./module-eval.nix; };
    stateDirMoved = lib.recursiveUpdate base { services.enlist.settings.state_dir = "/srv/enlist"; };
    timerOff = lib.recursiveUpdate base { services.enlist.timer.enable = false; };
    timerEvery30min = lib.recursiveUpdate base { services.enlist.timer.interval = "30min"; };
    jitter120 = lib.recursiveUpdate base { services.enlist.settings.start_jitter_secs = 120; };
    jitterPastDeadline = lib.recursiveUpdate base {
      services.enlist.settings = {
        start_jitter_secs = 900;
        run_timeout_secs = 840;
      };
    };
    slowRequests = lib.recursiveUpdate base {
      services.enlist.settings = {
        request_timeout_secs = 120;
        run_timeout_secs = 1200;
      };
    };

    # A GitHub App instead of the token.
    app = appBase;
    appAndToken = lib.recursiveUpdate appBase { services.enlist = { inherit tokenFile; }; };
    noCredential = {
      services.enlist = {
        enable = true;
        settings.repo = "acme/fleet";
      };
    };
    appWithoutKey = lib.recursiveUpdate appBase { services.enlist.githubApp.keyFile = null; };
    installationWithoutApp = lib.recursiveUpdate base { services.enlist.githubApp.installationId = 7; };
    storeAppKey = lib.recursiveUpdate appBase {
      services.enlist.githubApp.keyFile = "/nix/store/00000000000000000000000000000000-github-app-key.pem";
    };
    pathLiteralAppKey = lib.recursiveUpdate appBase { services.enlist.githubApp.keyFile = ./module-eval.nix; };
    emptyAppId = lib.recursiveUpdate appBase { services.enlist.githubApp.id = ""; };
    blankAppId = lib.recursiveUpdate appBase { services.enlist.githubApp.id = "  "; };

    # Settings: keys the binary accepts but the module declares no option for pass; any other key
    # is refused naming it, a credential with the option to use instead.
    knownKeys = lib.recursiveUpdate base {
      services.enlist.settings = {
        branch_prefix = "enlist/";
        start_jitter_secs = 0;
        node_id = "node-abc123";
      };
    };
    typoKey = lib.recursiveUpdate base { services.enlist.settings.base_brach = "main"; };
    tokenInSettings = lib.recursiveUpdate base {
      services.enlist.settings.token = "ghp_0123456789abcdefSECRET";
    };
    appKeyInSettings = lib.recursiveUpdate appBase {
      services.enlist.settings.github_app_private_key = "-----BEGIN RSA PRIVATE KEY-----";
    };
    tokenFileInSettings = lib.recursiveUpdate base {
      services.enlist.settings.token_file = "/run/secrets/github-token";
    };
    appKeyFileInSettings = lib.recursiveUpdate appBase {
      services.enlist.settings.github_app_key_file = appKeyFile;
    };

    # SSH host keys: generated by NixOS with openssh (or newer nixpkgs' generateHostKeys alone).
    openssh = lib.recursiveUpdate base { services.openssh.enable = true; };
    hostKeysOnly = lib.recursiveUpdate base { services.openssh.generateHostKeys = true; };
  };

  # What each scenario must do, for `nix flake check` (the root flake's checks.<system>.module):
  # accepted without a failed assertion, or refused — by an assertion whose message names the
  # option, or by the module system itself (a type error; which one depends on the nixpkgs lib:
  # newer ones reject some values by type that older ones leave to an assertion). The Rust tests
  # (tests/e2e/nixos_module.rs) check the details: units, messages, credentials.
  accepted = [
    "enabled"
    "disabled"
    "timerOff"
    "timerEvery30min"
    "slowRequests"
    "jitter120"
    "app"
    "knownKeys"
    "openssh"
    "hostKeysOnly"
  ];
  refused = {
    missingRepo = "services.enlist.settings.repo";
    badRepo = "services.enlist.settings.repo";
    storeToken = "services.enlist.tokenFile";
    relativeToken = "services.enlist.tokenFile";
    pathLiteralToken = "services.enlist.tokenFile";
    stateDirMoved = "services.enlist.settings.state_dir";
    appAndToken = "services.enlist";
    noCredential = "services.enlist";
    appWithoutKey = "services.enlist.githubApp.keyFile";
    installationWithoutApp = "services.enlist.githubApp.installationId";
    storeAppKey = "services.enlist.githubApp.keyFile";
    pathLiteralAppKey = "services.enlist.githubApp.keyFile";
    emptyAppId = "services.enlist.githubApp.id";
    blankAppId = "services.enlist.githubApp.id";
    typoKey = "services.enlist.settings.base_brach";
    jitterPastDeadline = "services.enlist.settings.start_jitter_secs";
    tokenInSettings = "services.enlist.settings.token";
    appKeyInSettings = "services.enlist.settings.github_app_private_key";
    tokenFileInSettings = "services.enlist.settings.token_file";
    appKeyFileInSettings = "services.enlist.settings.github_app_key_file";
  };
  observed = lib.mapAttrs (_: observe) scenarios;
  failures =
    lib.concatMap (
      name:
      lib.optional (
        observed.${name} ? evaluationFailed || observed.${name}.failedAssertions != [ ]
      ) "${name} should be accepted: ${builtins.toJSON observed.${name}}"
    ) accepted
    ++ lib.concatLists (
      lib.mapAttrsToList (
        name: option:
        lib.optional (
          !(observed.${name} ? evaluationFailed)
          && !(lib.any (lib.hasInfix option) observed.${name}.failedAssertions)
        ) "${name} should be refused naming ${option}: ${builtins.toJSON observed.${name}}"
      ) refused
    );

  # The module's options as the book's reference page (docs/src/reference/module-options.md):
  # every visible `services.enlist.*` option with its type, default and description, from the
  # declarations themselves; tests/e2e/nixos_module.rs compares the page with this.
  optionsMarkdown =
    let
      docs = lib.optionAttrSetToDocList (evaluate base).options;
      ours = lib.filter (
        o: lib.hasPrefix "services.enlist." o.name && o.visible && !o.internal && o.name != "services.enlist.settings._module.args"
      ) docs;
      text =
        v:
        if builtins.isAttrs v && v ? text then
          v.text
        else if builtins.isString v then
          v
        else
          builtins.toJSON v;
      # NixOS's manual turns {option}`name` into a link; here it stays the option's name in code.
      prose = s: builtins.replaceStrings [ "{option}" ] [ "" ] (lib.trim s);
      oneLine = s: lib.concatStringsSep " " (lib.filter (w: builtins.isString w && w != "") (builtins.split "[[:space:]]+" s));
      row =
        o:
        "## `${o.name}`\n\n"
        + "${prose (text (o.description or ""))}\n\n"
        + "| type | default |\n|---|---|\n"
        + "| ${oneLine o.type} | ${if o ? default then "`${oneLine (text o.default)}`" else "required"} |\n";
    in
    "<!-- Generated from nix/module.nix by nix/tests/module-eval.nix (attribute optionsMarkdown): do not edit.\n"
    + "     With ENLIST_NIXPKGS_LIB set, the end-to-end tests fail while this file differs (ENLIST_UPDATE_GOLDEN=1 rewrites it). -->\n\n"
    + "# NixOS module options\n\n"
    + "Every option of `services.enlist` (`nix/module.nix`; the flake's `nixosModules.default`). "
    + "`settings` is free-form: any key of the [configuration reference](config.md) is accepted, "
    + "every other key is refused at evaluation.\n\n"
    + lib.concatMapStringsSep "\n" row ours;
in
assert lib.sort lib.lessThan (accepted ++ lib.attrNames refused)
  == lib.sort lib.lessThan (lib.attrNames scenarios);
{
  inherit tokenFile appKeyFile observed optionsMarkdown;
  # True, or a throw listing every scenario that did not do what it should.
  check = failures == [ ] || throw "nix/tests/module-eval.nix:\n${lib.concatStringsSep "\n" failures}";
  # Not caught: `-A raw.NAME` fails with the module system's own message.
  raw = lib.mapAttrs (_: s: builtins.deepSeq (result s) (result s)) scenarios;
}
