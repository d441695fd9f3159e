//! `atoma-conformance`: writes a batch of differential conformance tests
//! (Rust state machine against the Move package) as a Move test module.
//! `scripts/conformance` generates a batch and runs it with the Move tests.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Drives random scenarios (every mode; honest, wrong, silent, withholding
/// and lazy nodes; disputes, abstentions, leaving nodes, parameter changes;
/// rejected operations) through the Rust state machine and writes Move
/// tests that replay each operation and assert the same events and objects.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Seed of the batch (default: from the clock; printed so a batch can be replayed).
    #[arg(long)]
    seed: Option<u64>,
    /// Scenario tests to write at most; a batch stops earlier at 8,000 byte
    /// literals (about 38 scenarios of 30 operations), what the Move test runner takes.
    #[arg(long, default_value_t = 40)]
    scenarios: usize,
    /// Operations per scenario (about).
    #[arg(long, default_value_t = 30)]
    ops: usize,
    /// Rejected-operation tests to write (each replays its scenario up to the refusal).
    #[arg(long, default_value_t = 8)]
    rejections: usize,
    /// Directory to write `conformance_tests.move` into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Also write, per scenario, the bytes behind every hash the tests compare.
    #[arg(long)]
    debug_dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    let batch = atoma_tools::conformance::generate(seed, args.scenarios, args.ops, args.rejections);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let path = args.out.join("conformance_tests.move");
    std::fs::write(&path, &batch.source).with_context(|| format!("writing {}", path.display()))?;
    if let Some(dir) = &args.debug_dir {
        std::fs::create_dir_all(dir)?;
        for (k, text) in batch.debug.iter().enumerate() {
            std::fs::write(dir.join(format!("scenario_{k}.txt")), text)?;
        }
    }
    println!(
        "conformance: seed {seed}: {} scenarios ({} operations, {} events) and {} rejected operations in {}",
        batch.scenarios,
        batch.operations,
        batch.events,
        batch.rejections,
        path.display()
    );
    let counts: Vec<String> = batch.by_event.iter().map(|(name, n)| format!("{name} {n}")).collect();
    println!("conformance: events compared: {}", counts.join(", "));
    Ok(())
}
