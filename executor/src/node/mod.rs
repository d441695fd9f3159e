//! The node service `atoma-node`: configuration, database, the service that
//! follows events and does each task, its HTTP servers and metrics.
//!
//! Layout: [`config`] (the TOML file), [`db`] (what survives a crash),
//! [`service`] (events, tasks, commits, reveals, keeper calls), [`server`]
//! (output protocol and `/metrics`), [`live`] and [`stream`] (outputs as
//! they are generated), [`metrics`].

pub mod config;
pub mod db;
pub mod live;
pub mod metrics;
pub mod server;
pub mod service;
pub mod stream;

use anyhow::Context;

use crate::node::config::Config;
use crate::node::db::Db;
use crate::node::service::Service;

/// Runs the node until an error stops it.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let db = Db::open(&config.data_dir)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {} (listen)", config.listen))?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} (metrics_listen)"))?,
        ),
        None => None,
    };
    let service = Service::start(config, db).await?;
    tracing::info!(node = %service.node_id(), listen = %listener.local_addr()?, "atoma-node running");
    let output_server = tokio::spawn(server::serve(service.clone(), listener));
    let metrics_server = metrics_listener.map(|l| tokio::spawn(server::serve_metrics(service.clone(), l)));
    let result = service.run().await;
    output_server.abort();
    if let Some(m) = metrics_server {
        m.abort();
    }
    result
}
