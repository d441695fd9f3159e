//! `atoma admin`: the `AdminCap` holder's commands. Each checks what the
//! chain would check before any gas is spent, and says what it changed.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use atoma_manifest::ModelManifest;
use atoma_protocol::params::{MAX_NAME_LEN, MAX_PROFILE_LEN, PARAM_COUNT, PARAMS, Unit};
use atoma_protocol::{Digest, Params};
use atoma_sdk::Chain;
use atoma_sdk::http::hex;
use clap::{Args, Subcommand};
use sui_sdk_types::Address;

use crate::env::{KeyArgs, NetworkArgs};

#[derive(Args)]
pub struct AdminArgs {
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The AdminCap's id (default: the environment's, else the one the key's address holds).
    #[arg(long, global = true, env = "ATOMA_ADMIN_CAP")]
    admin_cap: Option<Address>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Adds a hardware class (a shared object of its own): the profile its
    /// nodes must run with, the minimum collateral and the lock per task.
    AddClass {
        /// The class's name, which nodes give as `class.name` (e.g. cpu-avx2-t1/torch-2.13.0).
        #[arg(long)]
        name: String,
        /// The determinism profile, as `atoma-model profile` prints it on a
        /// machine of the class (its `chain_profile`, e.g.
        /// device=cpu;dtype=f32;threads=1;cpu_capability=avx2;libtorch=2.13.0).
        #[arg(long)]
        profile: String,
        /// Minimum collateral of a node (MIST).
        #[arg(long)]
        min_collateral: u64,
        /// Collateral locked per task (MIST), at most the minimum.
        #[arg(long)]
        task_lock: u64,
    },
    /// Registers a model: its id, its digest (from its manifest), its class,
    /// and its run-time bound on the class, which every commit timeout of its
    /// requests (and of every model of the class) will cover.
    AddModel {
        /// The model's manifest (TOML, as `atoma-model import` writes it): gives
        /// the id, the digest and the class unless the flags below do.
        #[arg(long, required_unless_present = "weight_digest")]
        manifest: Option<PathBuf>,
        /// The model id (default: the manifest's).
        #[arg(long)]
        id: Option<String>,
        /// The model digest, 64 hex digits (default: the manifest's).
        #[arg(long, requires = "id")]
        weight_digest: Option<String>,
        /// The class's name (default: the manifest's `hardware_class`).
        #[arg(long)]
        class: Option<String>,
        /// The longest an honest node of the class takes to run the model on
        /// any input, in ms (1 to 365 days): the figure `atoma-model bound`
        /// prints on a node of the class. Requests for any model of the class
        /// then need a commit timeout of at least `min_timeout_ms` plus their
        /// model's bound plus the class's longest.
        #[arg(long)]
        max_run_ms: u64,
    },
    /// Changes protocol parameters; the others keep their values (`atoma
    /// params` shows them). The chain refuses a set that breaks a range below
    /// or puts min_timeout_ms above max_timeout_ms; the command checks first.
    SetParams(ParamFlags),
    /// Moves every class's revenue (or one class's) to the treasury.
    SweepRevenue {
        /// Only this class (name or id).
        #[arg(long)]
        class: Option<String>,
    },
    /// Pays treasury MIST to the key's address.
    WithdrawTreasury {
        /// MIST to withdraw.
        #[arg(long, required_unless_present = "all")]
        amount: Option<u64>,
        /// Withdraws the whole treasury.
        #[arg(long, conflicts_with = "amount")]
        all: bool,
    },
    /// After a package upgrade (docs/deploy.md): moves the Network and every
    /// class to this package's version. Give the new package id with --package.
    Migrate,
}

/// One optional flag per protocol parameter, built from the table the
/// checks read (`atoma_protocol::params::PARAMS`), so each flag's help
/// gives the unit and range `set_params` enforces.
struct ParamFlags {
    values: [Option<u64>; PARAM_COUNT],
}

impl clap::FromArgMatches for ParamFlags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(ParamFlags { values: PARAMS.map(|p| matches.get_one::<u64>(p.name).copied()) })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for ParamFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let defaults = Params::default().values();
        PARAMS.iter().zip(defaults).fold(cmd, |cmd, (p, default)| {
            // clap keeps flag names as &'static str; they are made once per run.
            let long: &'static str = Box::leak(p.name.replace('_', "-").into_boxed_str());
            cmd.arg(
                clap::Arg::new(p.name)
                    .long(long)
                    .value_name(match p.unit {
                        Unit::Mist => "MIST",
                        Unit::Ms => "MS",
                        Unit::Bps => "BPS",
                        Unit::Count => "N",
                        Unit::Bytes => "BYTES",
                    })
                    .value_parser(clap::value_parser!(u64))
                    .help(format!("{}: {}, {}; default {default}", p.about, p.unit.name(), p.range())),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl ParamFlags {
    /// `current` with the given flags applied, and the names of what changed.
    fn apply(&self, current: Params) -> (Params, Vec<String>) {
        let mut values = current.values();
        let mut changed = Vec::new();
        for ((p, field), value) in PARAMS.iter().zip(&mut values).zip(self.values) {
            if let Some(v) = value.filter(|v| v != field) {
                changed.push(format!("{} {} -> {v}", p.name, *field));
                *field = v;
            }
        }
        (Params::from_values(values), changed)
    }
}

fn parse_digest(s: &str, what: &str) -> anyhow::Result<Digest> {
    Digest::from_hex(s).with_context(|| format!("{what} must be 64 hex digits (with or without 0x), got {s:?}"))
}

/// The manifest's id, class and model digest (as the node computes it:
/// the format is `atoma_manifest`'s, which the node reads too).
fn read_manifest(path: &Path) -> anyhow::Result<(String, String, Digest)> {
    let m = ModelManifest::read(path)?;
    let digest = m.digest();
    Ok((m.id, m.hardware_class, digest))
}

/// The class whose name or id is `name`, or an error listing the classes.
async fn class_id_by_name(chain: &Chain, name: &str) -> anyhow::Result<u64> {
    let classes = chain.classes().await?;
    if let Some((id, _)) = classes.iter().find(|(id, c)| c.name == name || id.to_string() == name) {
        return Ok(*id);
    }
    let names: Vec<String> = classes.iter().map(|(id, c)| format!("{id} {}", c.name)).collect();
    bail!(
        "no hardware class named {name:?} on this network; registered: {}",
        if names.is_empty() { "none (add one with `atoma admin add-class`)".to_string() } else { names.join(", ") }
    )
}

pub async fn admin(a: AdminArgs) -> anyhow::Result<()> {
    let key = a.key.resolve()?;
    let (chain, env) = a.network.connect(key.key).await?;
    let cap = match a.admin_cap.or(env.admin_cap) {
        Some(c) => c,
        None => chain.find_admin_cap().await?.with_context(|| {
            format!(
                "{} holds no AdminCap of network {}: sign with the admin's key (--key) or give --admin-cap",
                chain.sender(),
                env.network
            )
        })?,
    };
    match a.command {
        AdminCommand::AddClass { name, profile, min_collateral, task_lock } => {
            add_class(&chain, cap, name, profile, min_collateral, task_lock).await?
        }
        AdminCommand::AddModel { manifest, id, weight_digest, class, max_run_ms } => {
            add_model(&chain, cap, ModelArgs { manifest, id, weight_digest, class, max_run_ms }).await?
        }
        AdminCommand::SetParams(flags) => set_params(&chain, cap, flags).await?,
        AdminCommand::SweepRevenue { class } => sweep_revenue(&chain, cap, class).await?,
        AdminCommand::WithdrawTreasury { amount, all } => withdraw_treasury(&chain, cap, amount, all).await?,
        AdminCommand::Migrate => migrate(&chain, cap).await?,
    }
    Ok(())
}

/// Registers a hardware class, refusing a name in use.
async fn add_class(
    chain: &Chain,
    cap: Address,
    name: String,
    profile: String,
    min_collateral: u64,
    task_lock: u64,
) -> anyhow::Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        bail!("--name must be 1 to {MAX_NAME_LEN} bytes");
    }
    if profile.is_empty() || profile.len() > MAX_PROFILE_LEN {
        bail!("--profile must be 1 to {MAX_PROFILE_LEN} bytes");
    }
    if task_lock == 0 || task_lock > min_collateral {
        bail!("--task-lock must be positive and at most --min-collateral ({min_collateral} MIST)");
    }
    if let Some((id, _)) = chain.classes().await?.iter().find(|(_, c)| c.name == name) {
        bail!("class {id} is named {name:?} already: nodes find their class by name, so names must differ");
    }
    let (id, executed) = chain.add_hardware_class(cap, &name, &profile, min_collateral, task_lock).await?;
    let object = chain.class_object(id).await?;
    println!("{id}");
    eprintln!("added class {id} {name:?} (object {object}) in transaction {}", executed.digest);
    Ok(())
}

/// What `add-model` was given.
struct ModelArgs {
    manifest: Option<PathBuf>,
    id: Option<String>,
    weight_digest: Option<String>,
    class: Option<String>,
    max_run_ms: u64,
}

/// Registers a model (from its manifest or flags), refusing an id in use.
async fn add_model(chain: &Chain, cap: Address, a: ModelArgs) -> anyhow::Result<()> {
    let ModelArgs { manifest, id, weight_digest, class, max_run_ms } = a;
    if !(1..=atoma_protocol::params::MAX_DURATION_MS).contains(&max_run_ms) {
        bail!("--max-run-ms must be between 1 and {} (365 days)", atoma_protocol::params::MAX_DURATION_MS);
    }
    let from_manifest = manifest.as_deref().map(read_manifest).transpose()?;
    let model_id = id.or(from_manifest.as_ref().map(|m| m.0.clone())).context("give --id")?;
    let class = class.or(from_manifest.as_ref().map(|m| m.1.clone())).context("give --class")?;
    let digest = match (weight_digest, &from_manifest) {
        (Some(d), _) => parse_digest(&d, "--weight-digest")?,
        (None, Some(m)) => m.2,
        (None, None) => bail!("give --manifest or --weight-digest"),
    };
    if model_id.is_empty() || model_id.len() > MAX_NAME_LEN {
        bail!("the model id must be 1 to {MAX_NAME_LEN} bytes");
    }
    if chain.models().await?.iter().any(|(m, _)| *m == model_id) {
        bail!("model {model_id:?} is registered already (model ids are permanent; choose another id)");
    }
    let class_id = class_id_by_name(chain, &class).await?;
    let executed = chain.add_model(cap, &model_id, &digest.0, class_id, max_run_ms).await?;
    let network = chain.network().await?;
    let longest = chain.class(class_id).await?.longest_run_ms;
    println!("{model_id}");
    eprintln!(
        "added model {model_id:?} (digest {}, runs in at most {max_run_ms} ms) to class {class_id} in transaction {}",
        hex(&digest.0),
        executed.digest
    );
    eprintln!(
        "its requests need a commit timeout of at least {} ms (min_timeout_ms {} + its bound + the class's longest {longest})",
        network.params.min_timeout_ms + max_run_ms + longest,
        network.params.min_timeout_ms
    );
    Ok(())
}

/// Changes the parameters the flags name, refusing a set that breaks a rule.
async fn set_params(chain: &Chain, cap: Address, flags: ParamFlags) -> anyhow::Result<()> {
    let current = chain.network().await?.params;
    let (params, changed) = flags.apply(current);
    if changed.is_empty() {
        bail!("nothing to change: give at least one parameter flag with a new value (see --help)");
    }
    let broken = params.violations();
    if !broken.is_empty() {
        bail!("the new parameters break the network's rules: {}", broken.join("; "));
    }
    let executed = chain.set_params(cap, &params).await?;
    for c in &changed {
        println!("{c}");
    }
    eprintln!("parameters set in transaction {}", executed.digest);
    Ok(())
}

/// Moves a class's revenue (or every class's) to the treasury.
async fn sweep_revenue(chain: &Chain, cap: Address, class: Option<String>) -> anyhow::Result<()> {
    let classes = match class {
        Some(name) => vec![class_id_by_name(chain, &name).await?],
        None => chain.classes().await?.iter().filter(|(_, c)| c.revenue > 0).map(|(id, _)| *id).collect(),
    };
    if classes.is_empty() {
        eprintln!("no class holds revenue");
    }
    for id in classes {
        let revenue = chain.class(id).await?.revenue;
        let executed = chain.sweep_revenue(cap, id).await?;
        println!("class {id}: {revenue} MIST to the treasury");
        eprintln!("  transaction {}", executed.digest);
    }
    Ok(())
}

/// Pays the treasury (or part of it) to the admin.
async fn withdraw_treasury(chain: &Chain, cap: Address, amount: Option<u64>, all: bool) -> anyhow::Result<()> {
    let treasury = chain.network().await?.treasury;
    let amount = if all { treasury } else { amount.context("give --amount or --all")? };
    if amount == 0 {
        bail!("nothing to withdraw: the treasury holds {treasury} MIST");
    }
    if amount > treasury {
        bail!(
            "the treasury holds {treasury} MIST, less than {amount}; `atoma admin sweep-revenue` moves the classes' revenue into it"
        );
    }
    let executed = chain.withdraw_treasury(cap, amount).await?;
    println!("{amount}");
    eprintln!("paid {amount} MIST to {} in transaction {}", chain.sender(), executed.digest);
    Ok(())
}

/// Moves the Network, then every class, to this package version.
async fn migrate(chain: &Chain, cap: Address) -> anyhow::Result<()> {
    let executed = chain.migrate(cap).await?;
    eprintln!("migrated the Network in transaction {}", executed.digest);
    let classes = chain.network().await?.next_class_id;
    for id in 0..classes {
        let executed = chain.migrate_class(cap, id).await?;
        eprintln!("migrated class {id} in transaction {}", executed.digest);
    }
    println!("migrated the Network and {classes} class(es)");
    Ok(())
}
