# The keys of enlist's config file, printed by `enlist config-keys` from the `settings!`
# list in agent/src/config.rs. Generated: do not edit. nix/module.nix refuses any other
# key in services.enlist.settings; the end-to-end tests fail while this file differs from
# the binary's list (ENLIST_UPDATE_GOLDEN=1 rewrites it).
[
  "dry_run"
  "repo"
  "api_url"
  "token_file"
  "github_app_id"
  "github_app_key_file"
  "github_app_installation_id"
  "state_dir"
  "operator"
  "node_id"
  "path_template"
  "base_branch"
  "root"
  "allow_live"
  "auto_merge"
  "auto_merge_updates"
  "branch_prefix"
  "labels"
  "readiness_timeout_secs"
  "rate_limit_wait_secs"
  "request_timeout_secs"
  "start_jitter_secs"
  "allow_insecure_http"
  "run_timeout_secs"
]
