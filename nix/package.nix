# The enlist binary, plus the distro-neutral unit for users of the package outside NixOS.
# NixOS users want nix/module.nix instead: it generates its own unit with the same hardening.
{
  lib,
  stdenv,
  rustPlatform,
  installShellFiles,
}:
let
  # The workspace manifest carries the version (`[workspace.package]`), so it is stated once.
  workspace = (lib.importTOML ../Cargo.toml).workspace.package;

  # The source set: what cargo needs to build and test the enlist crate, nothing else, so a change
  # to the README, examples/ or nix/ does not rebuild the binary. The crate's tests read nothing
  # outside agent/. tests/ is a workspace member: its manifest alone lets cargo load the
  # workspace with the lock file as it is (`--frozen`); nothing of it is built here.
  # (A plain filter rather than lib.fileset: the Nix 2.8 of CI's check evaluates it; .ci/run
  # lists the set through nix/tests/package-source.nix and runs the crate's tests on a copy.)
  sources = [
    "Cargo.toml"
    "Cargo.lock"
    "agent"
    "tests/Cargo.toml"
    "systemd/enlist.service"
  ];
  root = toString ../.;
  # Kept: a listed path, anything under a listed directory, and the directories on the way there.
  kept =
    path: type:
    let
      relative = lib.removePrefix "${root}/" (toString path);
    in
    lib.any (
      source:
      relative == source
      || lib.hasPrefix "${source}/" relative
      || (type == "directory" && lib.hasPrefix "${relative}/" source)
    ) sources;
in
rustPlatform.buildRustPackage {
  pname = "enlist";
  inherit (workspace) version;

  src = lib.cleanSourceWith {
    name = "enlist-source";
    src = ../.;
    filter = kept;
  };

  cargoLock.lockFile = ../Cargo.lock;

  nativeBuildInputs = [ installShellFiles ];

  # Build and test the agent only: the e2e crate (fake GitHub, nspawn boot test) does not belong in
  # a sandboxed package build.
  cargoBuildFlags = [
    "-p"
    "enlist"
  ];
  cargoTestFlags = [
    "-p"
    "enlist"
  ];

  # The plain unit expects /usr/bin/enlist; point it at this store path instead.
  postInstall = ''
    install -Dm0644 systemd/enlist.service $out/lib/systemd/system/enlist.service
    substituteInPlace $out/lib/systemd/system/enlist.service \
      --replace-fail "ExecStart=/usr/bin/enlist " "ExecStart=$out/bin/enlist "
  ''
  # Man pages and completions come from the binary itself (clap), so they match its --help. They
  # need to run it: skipped when cross-compiling.
  + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    $out/bin/enlist manpage --dir man
    installManPage man/*.1
    installShellCompletion --cmd enlist \
      --bash <($out/bin/enlist completions bash) \
      --fish <($out/bin/enlist completions fish) \
      --zsh <($out/bin/enlist completions zsh)
  '';

  meta = {
    description = "Registers bare-metal NixOS nodes in a GitOps repository exactly once";
    homepage = "https://github.com/enlist-dev/enlist";
    license = [
      lib.licenses.mit
      lib.licenses.asl20
    ];
    mainProgram = "enlist";
    # Facts come from Linux sysfs/procfs and the unit from systemd.
    platforms = lib.platforms.linux;
    maintainers = [ ];
  };
}
