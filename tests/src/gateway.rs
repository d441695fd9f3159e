//! `atoma-gateway serve` as a process on a cluster's network, for the
//! gateway's and the web page's end-to-end tests and the demo.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::{Cluster, bin};

/// The gateway process, stopped when dropped.
pub struct Gateway {
    pub child: Child,
    /// `http://127.0.0.1:PORT/v1`, as it printed.
    pub url: String,
}

impl Gateway {
    /// Starts `atoma-gateway serve` on the cluster's network with `args`,
    /// paying with the cluster's requester key, on a free port.
    pub fn start(cluster: &Cluster, args: &[&str]) -> anyhow::Result<Gateway> {
        let mut child = Command::new(bin("atoma-gateway")?)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .arg("--info")
            .arg(cluster.dir.join("localnet/info.json"))
            .env("ATOMA_KEY", cluster.requester.to_suiprivkey()?)
            .env("ATOMA_CONFIG", cluster.dir.join("no-atoma-config.toml"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) else {
            let _ = child.kill();
            anyhow::bail!("the gateway did not say where it listens: {line:?}");
        };
        Ok(Gateway { url: url.to_string(), child })
    }

    /// The root the gateway serves the web page at.
    pub fn root(&self) -> String {
        self.url.trim_end_matches("/v1").to_string() + "/"
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
