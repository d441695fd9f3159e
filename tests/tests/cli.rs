//! The command-line tools as a new user runs them, as processes: a local
//! network set up through `atoma admin` alone (no classes or models at
//! genesis), an operator funded by the faucet who goes through a node's
//! whole life with `atoma-node` (register, run, status beside the running
//! node, add-collateral, set-endpoint, leave, withdraw, register again), a
//! request submitted with `atoma`, and the texts users read: errors that
//! say what to do, and no Rust debug formatting anywhere.

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
    let keystore = format!("net/sui.keystore#{admin}");
    assert_eq!(s.ok("atoma", &["key", "use", &keystore]), admin);

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
        measured >= 100 && measured % 100 == 0 && bound["input"].as_str().unwrap().contains("64 new tokens"),
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

    // What users read: no Rust debug formatting in any text output.
    for text in &s.printed {
        for debug in ["Address(", "Some(", "None)", "InputSpec", "Digest(", "EventCursor"] {
            assert!(!text.contains(debug), "{debug} in:\n{text}");
        }
    }
}
