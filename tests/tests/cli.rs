//! The command-line tools as a new user runs them, as processes: a local
//! network set up through `atoma admin` alone (no classes or models at
//! genesis), an operator funded by the faucet who goes through a node's
//! whole life with `atoma-node` (register, run, status beside the running
//! node, add-collateral, set-endpoint, leave, withdraw, register again), a
//! request submitted with `atoma`, and the texts users read: errors that
//! say what to do, and no Rust debug formatting anywhere.

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here a test reads top to bottom as one scenario

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use atoma_e2e::{ClassSpec, bin, health, wait_for};

/// Runs the tools in one directory with a home of their own, keeping everything they print.
struct Session {
    dir: PathBuf,
    printed: Vec<String>,
    children: Vec<Child>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Session {
    fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(bin(name).unwrap());
        cmd.current_dir(&self.dir)
            .env("HOME", self.dir.join("home"))
            .env("SUI_CONFIG_DIR", self.dir.join("home/.sui/sui_config"))
            .env_remove("ATOMA_CONFIG")
            .env_remove("ATOMA_KEY")
            .env_remove("ATOMA_URL")
            .env_remove("ATOMA_INFO")
            .env("NO_COLOR", "1")
            .env("OMP_WAIT_POLICY", "PASSIVE");
        cmd
    }

    fn run(&mut self, name: &str, args: &[&str]) -> Output {
        let out = self.command(name).args(args).output().unwrap();
        self.keep(name, args, out)
    }

    /// Runs a command from another directory than the session's.
    fn run_in(&mut self, dir: &Path, name: &str, args: &[&str]) -> Output {
        let out = self.command(name).current_dir(dir).args(args).output().unwrap();
        self.keep(name, args, out)
    }

    fn keep(&mut self, name: &str, args: &[&str], out: Output) -> Output {
        let text = format!(
            "$ {name} {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{text}");
        self.printed.push(text);
        out
    }

    /// Runs a command that must succeed; returns its standard output, trimmed.
    fn ok(&mut self, name: &str, args: &[&str]) -> String {
        let out = self.run(name, args);
        assert!(out.status.success(), "{name} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs a command that must fail; returns its standard error.
    fn fails(&mut self, name: &str, args: &[&str]) -> String {
        let out = self.run(name, args);
        assert!(!out.status.success(), "{name} {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    fn spawn(&mut self, name: &str, args: &[&str], log: &str) {
        let log = std::fs::File::create(self.dir.join(log)).unwrap();
        let child = self.command(name).args(args).stdout(Stdio::null()).stderr(log).spawn().unwrap();
        self.children.push(child);
    }

    fn path(&self, p: &str) -> String {
        self.dir.join(p).display().to_string()
    }
}

fn info_field(path: &Path, key: &str) -> String {
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    info[key].as_str().unwrap_or_else(|| panic!("{key} in {}", path.display())).to_string()
}

#[test]
fn a_network_is_set_up_with_atoma_admin_and_a_node_lives_its_whole_life_through_atoma_node() {
    let temp = tempfile::tempdir().unwrap();
    let mut s = Session { dir: temp.path().to_path_buf(), printed: Vec::new(), children: Vec::new() };
    std::fs::create_dir_all(s.dir.join("home")).unwrap();

    // A network with nothing but the admin's and one requester's accounts.
    let init = s.ok("atoma-localnet", &["init", "--dir", "net", "--accounts", "2"]);
    let admin = init.lines().find_map(|l| l.trim().strip_prefix("account 0: ")).unwrap().replace(" (admin)", "");
    s.spawn(
        "atoma-localnet",
        &[
            "start",
            "--genesis",
            "net/genesis.toml",
            "--listen",
            "127.0.0.1:0",
            "--faucet-listen",
            "127.0.0.1:0",
            "--data-dir",
            "chain",
            "--info-file",
            "info.json",
        ],
        "localnet.log",
    );
    let info = s.dir.join("info.json");
    wait_for("the local network", Duration::from_secs(60), || Ok(info.exists())).unwrap();
    let faucet = info_field(&info, "faucet_url");

    // Before any environment, commands say how to configure one.
    let e = s.fails("atoma", &["classes"]);
    assert!(e.contains("atoma env add"), "{e}");
    s.ok("atoma", &["env", "add", "local", "--info", "info.json"]);
    // The ids can also be read from the publication (here: the genesis transaction).
    let publication = info_field(&info, "genesis_transaction");
    s.ok("atoma", &["env", "add", "published", "--url", &info_field(&info, "url"), "--publish-tx", &publication]);
    let envs = s.ok("atoma", &["env", "list"]);
    assert!(envs.contains("* published") && envs.matches(&info_field(&info, "network")).count() == 2, "{envs}");
    s.ok("atoma", &["env", "use", "local"]);
    // Keystores are readable by their owner only.
    let mode =
        |p: &str| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(s.dir.join(p)).unwrap().permissions());
    assert_eq!(mode("net/sui.keystore") & 0o777, 0o600);
    let keystore = format!("net/sui.keystore#{admin}");
    assert_eq!(s.ok("atoma", &["key", "use", &keystore]), admin);
    // The key is stored with its absolute path: it works from any directory.
    let elsewhere = s.dir.join("home");
    let shown = s.run_in(&elsewhere, "atoma", &["key", "show"]);
    assert!(shown.status.success() && String::from_utf8_lossy(&shown.stdout).contains(&admin), "{shown:?}");
    // A keystore others can read still works, with a warning that says how to fix it.
    let shared = s.dir.join("shared.keystore");
    std::fs::copy(s.dir.join("net/sui.keystore"), &shared).unwrap();
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let warned = s.run("atoma", &["key", "show", "--key", &format!("shared.keystore#{admin}")]);
    let warning = String::from_utf8_lossy(&warned.stderr).to_string();
    assert!(warned.status.success() && warning.contains("chmod 600"), "{warning}");
    // A URL without its scheme is refused with the fix.
    let e = s.fails("atoma", &["classes", "--url", "127.0.0.1:9000"]);
    assert!(e.contains("write http://127.0.0.1:9000"), "{e}");

    // The admin sets the network up: a class, its model, a short unbonding delay.
    let class = ClassSpec { threads: 1 };
    let (min, lock) = ("2000000000", "500000000");
    let add_class =
        ["admin", "add-class", "--name", &class.name(), "--profile", &class.chain_profile(), "--min-collateral", min];
    let e = s.fails("atoma", &[&add_class[..], &["--task-lock", "3000000000"]].concat());
    assert!(e.contains("--task-lock must be positive and at most --min-collateral"), "{e}");
    assert_eq!(s.ok("atoma", &[&add_class[..], &["--task-lock", lock]].concat()), "0");
    let e = s.fails("atoma", &[&add_class[..], &["--task-lock", lock]].concat());
    assert!(e.contains("is named") && e.contains("already"), "{e}");

    std::fs::create_dir_all(s.dir.join("models")).unwrap();
    let weights = s.path("models/tiny-gpt.safetensors");
    s.ok("atoma-model", &["generate-test-model", "--out", &weights]);
    std::fs::write(s.dir.join("models/tiny-gpt.toml"), include_str!("../../models/tiny-gpt.toml")).unwrap();
    let add_model = ["admin", "add-model", "--manifest", "models/tiny-gpt.toml"];
    let e = s.fails("atoma", &add_model);
    assert!(e.contains("--max-run-ms"), "the run-time bound is required: {e}");
    let e = s.fails("atoma", &[&add_model[..], &["--max-run-ms", "0"]].concat());
    assert!(e.contains("--max-run-ms must be between 1 and"), "{e}");
    // The bound, measured on this machine with `atoma-model bound`.
    let bound = s.ok("atoma-model", &["bound", "models/tiny-gpt.toml", "--runs", "1", "--json"]);
    let bound: serde_json::Value = serde_json::from_str(&bound).unwrap();
    let measured = bound["max_run_ms"].as_u64().unwrap();
    assert!(
        measured >= 100 && measured.is_multiple_of(100) && bound["input"].as_str().unwrap().contains("64 new tokens"),
        "{bound}"
    );
    let add_model = [&add_model[..], &["--max-run-ms", "1000"]].concat();
    let e = s.fails("atoma", &[&add_model[..], &["--class", "gpu"]].concat());
    assert!(e.contains("no hardware class named \"gpu\"") && e.contains(&class.name()), "{e}");
    assert_eq!(s.ok("atoma", &add_model), "tiny-gpt");
    let e = s.fails("atoma", &add_model);
    assert!(e.contains("registered already"), "{e}");
    assert!(s.ok("atoma", &["admin", "set-params", "--unbonding-delay-ms", "1500"]).contains("unbonding_delay_ms"));
    let e = s.fails("atoma", &["admin", "set-params", "--max-n", "0"]);
    assert!(e.contains("max_n must be between 1 and"), "{e}");
    // The parameters with their units and ranges, as set-params' help gives them.
    let params = s.ok("atoma", &["params"]);
    assert!(params.contains("unbonding_delay_ms") && params.contains("1500 ms (1.5 s)"), "{params}");
    assert!(params.contains("grace_ms") && params.contains("between 5000 and 31536000000"), "{params}");
    let help = s.ok("atoma", &["admin", "set-params", "--help"]);
    assert!(help.contains("--grace-ms <MS>") && help.contains("between 5000 and 31536000000"), "{help}");
    // Global flags go after the subcommand too.
    let e = s.fails("atoma", &["admin", "withdraw-treasury", "--amount", "1", "--key", &keystore]);
    assert!(e.contains("the treasury holds 0 MIST"), "{e}");
    let e = s.fails("atoma", &["admin", "withdraw-treasury", "--amount", "1"]);
    assert!(e.contains("the treasury holds 0 MIST"), "{e}");
    let classes = s.ok("atoma", &["classes"]);
    assert!(classes.contains(&class.name()) && classes.contains("model tiny-gpt"), "{classes}");

    // An operator with a new key, funded by the faucet.
    let operator = s.ok("atoma", &["keygen", "--keystore", "op/op.keystore"]);
    s.ok("atoma-localnet", &["faucet", &operator, "20000000000", "--url", &faucet]);
    let balance = s.ok("atoma", &["balance", &operator]);
    assert_eq!(balance, "20000000000");

    let port = atoma_localnet::ports::unused_port().unwrap();
    let node_toml = |listen: &str| {
        format!(
            "url = \"{}\"\npackage = \"{}\"\nnetwork = \"{}\"\nkey = \"op/op.keystore#{operator}\"\ndata_dir = \"node\"\n\
             listen = \"{listen}\"\nmodels = [\"models/tiny-gpt.toml\"]\n\n[class]\n{}",
            info_field(&info, "url"),
            info_field(&info, "package"),
            info_field(&info, "network"),
            class.profile_toml()
        )
    };
    // A listening address is not an endpoint.
    std::fs::write(s.dir.join("atoma-node.toml"), node_toml(&format!("0.0.0.0:{port}"))).unwrap();
    let e = s.fails("atoma-node", &["register"]);
    assert!(e.contains("is a listening address") && e.contains("public_url"), "{e}");
    std::fs::write(s.dir.join("atoma-node.toml"), node_toml(&format!("127.0.0.1:{port}"))).unwrap();
    let e = s.fails("atoma-node", &["register", "--collateral", "5"]);
    assert!(e.contains("below class") && e.contains("minimum of 2000000000 MIST"), "{e}");
    let node = s.ok("atoma-node", &["register"]);
    let e = s.fails("atoma-node", &["register"]);
    assert!(e.contains(&node) && e.contains("is registered"), "{e}");

    s.spawn("atoma-node", &["run"], "node.log");
    wait_for("the node", Duration::from_secs(180), || Ok(health(port))).unwrap();
    let status = s.ok("atoma-node", &["status"]);
    assert!(status.contains("(running)") && status.contains("eligible for new tasks"), "{status}");

    // A request, from the admin's account (the active key).
    let submitted = s.ok(
        "atoma",
        &["submit", "--model", "tiny-gpt", "--prompt", "hello", "--max-tokens", "4", "--n", "1", "--json"],
    );
    let submitted: serde_json::Value = serde_json::from_str(&submitted).unwrap();
    assert_eq!(submitted["outcome"]["status"], "finalized", "{submitted}");
    let request = submitted["request"].as_str().unwrap().to_string();
    let shown = s.ok("atoma", &["status", &request]);
    assert!(shown.contains("finalized") && shown.contains("executor"), "{shown}");
    // The fee as paid, not what the request object still holds; what happened, in words.
    assert!(shown.contains("fee paid  1000000 MIST (0.001 SUI)") && shown.contains("finalized: output"), "{shown}");
    assert!(shown.contains("UTC") && !shown.contains(" fee 0 "), "{shown}");
    // The test model's output is its token ids.
    let tokens =
        s.ok("atoma", &["submit", "--model", "tiny-gpt", "--prompt", "hello", "--max-tokens", "4", "--n", "1"]);
    assert_eq!(tokens.split(' ').filter(|t| t.parse::<u32>().is_ok()).count(), 4, "{tokens}");
    // Exit statuses: a refused input, a wait that ran out.
    let refused = s.run("atoma", &["submit", "--model", "tiny-gpt", "--input", "not json", "--n", "1"]);
    assert_eq!(refused.status.code(), Some(4), "a refused input");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("the model refused the input (invalid_json)"));
    let waited = s.run("atoma", &["submit", "--model", "tiny-gpt", "--prompt", "x", "--n", "1", "--wait-s", "0"]);
    assert_eq!(waited.status.code(), Some(5), "a wait that ran out");
    assert!(String::from_utf8_lossy(&waited.stderr).contains("did not settle within --wait-s 0"));
    let e = s.fails("atoma", &["submit", "--model", "tiny-gpt", "--prompt", "x", "--n", "1", "--p", "0.5"]);
    assert!(e.contains("--p is the check probability of cross-validation and sealed"), "{e}");
    let e = s.fails("atoma", &["status", &node]);
    assert!(e.contains("not a request"), "{e}");
    let e = s.fails("atoma", &["submit", "--model", "nope", "--prompt", "x"]);
    assert!(e.contains("model nope is not registered") && e.contains("tiny-gpt"), "{e}");
    let e = s.fails("atoma", &["submit", "--model", "tiny-gpt", "--prompt", "x", "--n", "3"]);
    assert!(e.contains("has 1 eligible node(s); a sampling request with n = 3 needs 3"), "{e}");
    let e = s.fails("atoma", &["submit", "--model", "tiny-gpt", "--prompt", "x", "--n", "1", "--fee", "1"]);
    assert!(e.contains("below the network's minimum of 1000000 MIST"), "{e}");
    let e = s.fails("atoma", &["submit", "--model", "tiny-gpt", "--prompt", "x", "--timeout-ms", "1"]);
    assert!(e.contains("below the shortest commit timeout of tiny-gpt: 7000 ms"), "{e}");

    // A second operator's node registers and never runs: a silent member.
    let silent = s.ok("atoma", &["keygen", "--keystore", "silent/op.keystore"]);
    s.ok("atoma-localnet", &["faucet", &silent, "20000000000", "--url", &faucet]);
    let silent_port = atoma_localnet::ports::unused_port().unwrap();
    let silent_toml = node_toml(&format!("127.0.0.1:{silent_port}"))
        .replace(&format!("op/op.keystore#{operator}"), &format!("silent/op.keystore#{silent}"))
        .replace("data_dir = \"node\"", "data_dir = \"silent/node\"");
    std::fs::write(s.dir.join("silent.toml"), silent_toml).unwrap();
    s.ok("atoma-node", &["--config", "silent.toml", "register", "--collateral", "4000000000"]);
    // The live node's output is shown the moment it is served, before the
    // silent member is slashed; the request then fails (its seat cannot be
    // refilled) and the command exits with status 3.
    let args = ["submit", "--model", "tiny-gpt", "--prompt", "hello", "--max-tokens", "4", "--n", "2"];
    let failed = s.run("atoma", &[&args[..], &["--timeout-ms", "7000"]].concat());
    assert_eq!(failed.status.code(), Some(3), "a failed request");
    let progress = String::from_utf8_lossy(&failed.stderr).to_string();
    let at = |what: &str| progress.find(what).unwrap_or_else(|| panic!("no {what:?} in:\n{progress}"));
    assert!(at("first output from node") < at("slashed"), "{progress}");
    assert!(at("slashed") < at("failed: a seat stayed empty"), "{progress}");
    let failed = s.run("atoma", &[&args[..], &["--timeout-ms", "7000", "--json"]].concat());
    assert_eq!(failed.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&failed.stdout).unwrap();
    let steps = report["timeline"].as_array().unwrap();
    let step = |event: &str| {
        steps.iter().find(|s| s["event"] == event).unwrap_or_else(|| panic!("no {event} in {report}"))["seconds"]
            .as_f64()
            .unwrap()
    };
    assert!(step("FirstOutput") <= step("NodeSlashed") && step("NodeSlashed") <= step("RequestFailed"), "{report}");
    assert_eq!(report["first_output"]["seconds"].as_f64(), Some(step("FirstOutput")), "{report}");
    assert_eq!(report["outcome"]["reason"], "timeout", "{report}");

    // The operator's life, beside the running node.
    assert_eq!(s.ok("atoma-node", &["add-collateral", "700000000"]), "2700000000");
    let endpoint = format!("http://localhost:{port}");
    assert_eq!(s.ok("atoma-node", &["set-endpoint", &endpoint]), endpoint);
    let e = s.fails("atoma-node", &["withdraw"]);
    assert!(e.contains("atoma-node leave"), "{e}");
    s.ok("atoma-node", &["leave"]);
    let status = s.ok("atoma-node", &["status"]);
    assert!(status.contains("leaving") && status.contains(&endpoint), "{status}");
    std::thread::sleep(Duration::from_millis(2_000));
    assert!(s.ok("atoma-node", &["withdraw"]).starts_with("withdrawn 2700000000 MIST"));
    let mut node_process = s.children.pop().unwrap();
    let _ = node_process.kill();
    let _ = node_process.wait();
    let status = s.ok("atoma-node", &["status"]);
    assert!(status.contains("not registered on chain"), "{status}");
    let again = s.ok("atoma-node", &["register"]);
    assert_ne!(again, node, "a new node");

    // With the chain down, the node's status still shows its local state.
    let mut localnet = s.children.remove(0);
    let _ = localnet.kill();
    let _ = localnet.wait();
    let status = s.ok("atoma-node", &["status"]);
    assert!(status.contains("chain unreachable") && status.contains("database:"), "{status}");

    // What users read: no Rust debug formatting in any text output, nor in
    // any log line at info level or above.
    for log in ["node.log", "localnet.log"] {
        let text = std::fs::read_to_string(s.dir.join(log)).unwrap();
        for line in text.lines().filter(|l| [" INFO ", " WARN ", " ERROR "].iter().any(|level| l.contains(level))) {
            s.printed.push(line.to_string());
            let long_fraction = line
                .split(|c: char| !c.is_ascii_digit() && c != '.')
                .any(|w| w.split_once('.').is_some_and(|(_, fraction)| fraction.len() > 6 && !fraction.contains('.')));
            assert!(!long_fraction, "an unrounded number in {log}: {line}");
        }
    }
    for text in &s.printed {
        for debug in ["Address(", "Some(", "None)", "InputSpec", "Digest(", "EventCursor", "After(", "Checkpoint("] {
            assert!(!text.contains(debug), "{debug} in:\n{text}");
        }
    }
}

/// A command's help and its subcommands' names.
fn help(name: &str, path: &[String]) -> Option<(String, Vec<String>)> {
    let out = Command::new(bin(name).unwrap()).args(path).arg("--help").env("NO_COLOR", "1").output().unwrap();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let commands = text
        .split("Commands:")
        .nth(1)
        .map(|list| {
            list.lines()
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|c| *c != "help")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Some((text, commands))
}

#[test]
fn every_command_and_flag_a_help_text_names_exists() {
    let binaries = ["atoma", "atoma-node", "atoma-model", "atoma-localnet"];
    // Every help text of every binary, walking the subcommands.
    let mut texts = Vec::new();
    for name in binaries {
        let mut todo = vec![Vec::<String>::new()];
        while let Some(path) = todo.pop() {
            let (text, commands) = help(name, &path).unwrap_or_else(|| panic!("{name} {path:?} --help failed"));
            for c in commands {
                todo.push([path.clone(), vec![c]].concat());
            }
            texts.push((format!("{name} {}", path.join(" ")), text));
        }
    }
    assert!(texts.len() > 30, "{} help texts", texts.len());
    // Each `binary word …` quoted in a help names a command that exists, and each --flag after it is one of its flags.
    let mut checked = 0;
    for (whose, text) in &texts {
        for quoted in text.split('`').skip(1).step_by(2) {
            let mut words = quoted.split_whitespace();
            let Some(name) = words.next().filter(|w| binaries.contains(w)) else { continue };
            let mut path: Vec<String> = Vec::new();
            let (mut text, mut commands) = help(name, &path).unwrap();
            for word in words {
                if word.starts_with("--") {
                    let flag = word.split(['=', ' ']).next().unwrap();
                    assert!(
                        text.contains(&format!("{flag} ")) || text.contains(&format!("{flag}\n")),
                        "`{quoted}` in the help of {whose}: {name} {} has no {flag}",
                        path.join(" ")
                    );
                } else if !commands.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                    assert!(
                        commands.iter().any(|c| c == word),
                        "`{quoted}` in the help of {whose}: {name} {} has no command {word}",
                        path.join(" ")
                    );
                    path.push(word.to_string());
                    (text, commands) = help(name, &path).unwrap();
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} commands named in help texts");
}
