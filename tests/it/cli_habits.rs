//! Habits shared by every command: shell completion scripts, `--out` naming one file
//! (directories take `--repo`/`--out-dir`, the old spellings still accepted), `--format`
//! for stdout, and a text plan that says what it ran against on its first line.

use std::path::Path;

use keelson::sync::{Target, TargetSpec};

use crate::plan_cli::fleet;
use crate::util::{keelson_cli, load, out_and_err as text, AUTO_CLUSTER, FLEET};

#[test]
fn completion_scripts_name_every_subcommand_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F _keelson"),
        ("zsh", "#compdef keelson"),
        ("fish", "complete -c keelson"),
    ] {
        let o = keelson_cli(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", text(&o));
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for sub in [
            "validate",
            "plan",
            "apply",
            "check",
            "sim",
            "run",
            "import",
            "status",
            "approve",
            "completions",
        ] {
            assert!(script.contains(sub), "{shell}: no `{sub}`");
        }
        for flag in ["detailed-exitcode", "ignore-gate", "out-dir"] {
            assert!(script.contains(flag), "{shell}: no `{flag}`");
        }
    }
    let o = keelson_cli(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("possible values: bash, elvish, fish, powershell, zsh"),
        "{}",
        text(&o)
    );
}

#[test]
fn directories_take_out_dir_and_repo_and_the_old_out_still_works() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--out-dir", "--out"] {
        let to = dir.path().join(flag.trim_start_matches('-'));
        let o = keelson_cli(&["schema", flag, to.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(to.join("fleet.schema.json").is_file(), "{flag}");
    }
    let help = text(&keelson_cli(&["import", "--help"]));
    assert!(
        help.contains("--repo <DIR>") && !help.contains("--out <"),
        "{help}"
    );
    let help = text(&keelson_cli(&["run", "--help"]));
    assert!(
        help.contains("--format <FORMAT>") && !help.contains("--output <"),
        "{help}"
    );
}

#[test]
fn a_text_plan_names_the_simulator_and_its_state_file_on_its_first_line() {
    let (d, repo) = fleet();
    let state = d.path().join("state.json");
    let o = keelson_cli(&[
        "plan",
        "--repo",
        repo.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let first = out.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("Planned against the simulator (state {}).", state.display())
    );
    // JSON and Markdown keep their own layout.
    let o = keelson_cli(&["plan", "--repo", repo.to_str().unwrap(), "--format", "json"]);
    assert!(String::from_utf8(o.stdout).unwrap().starts_with('{'));
}

#[test]
fn an_aws_plan_names_the_accounts_and_regions_it_read() {
    let cluster = |name: &str, region: &str, account: &str| {
        AUTO_CLUSTER
            .replace("name: auto1", &format!("name: {name}"))
            .replace(
                "  region: ap-northeast-1\n",
                &format!("  region: {region}\n  account: \"{account}\"\n"),
            )
    };
    let (a, b) = (
        cluster("a", "us-east-1", "111122223333"),
        cluster("b", "eu-west-1", "444455556666"),
    );
    let loaded = load(&[
        ("keelson.yaml", FLEET),
        ("a/cluster.yaml", &a),
        ("b/cluster.yaml", &b),
    ]);
    let spec = TargetSpec {
        target: Target::Aws,
        ..TargetSpec::sim(Path::new("unused").into())
    };
    assert_eq!(
        keelson::cli::pr::target_line(&loaded, &spec),
        "Planned against AWS (accounts 111122223333, 444455556666; regions eu-west-1, us-east-1)."
    );
    let only_b = TargetSpec {
        clusters: ["b".to_string()].into(),
        ..spec
    };
    assert!(keelson::cli::pr::target_line(&loaded, &only_b).ends_with("; regions eu-west-1)."));
}
