//! Open a run trained on a table of normal rows and flag the anomalies in another CSV: fit a
//! threshold flagging 5% of the validation rows (or use the one `ae anomaly fit` saved), then
//! score every row. A label column of the new table, if named, is set aside, not scored.
//!
//! ```sh
//! cargo run --release -p ae-toolkit --example score_csv -- runs/table new-rows.csv [LABEL_COLUMN]
//! ```

use std::error::Error;

use ae_toolkit::anomaly::{AnomalyDetector, ThresholdRule};
use ae_toolkit::backend::Flex;
use ae_toolkit::{ItemSource, TrainedRun};

/// Scores the rows of `args[1]` with the run at `args[0]`; returns each row's score and flag.
pub fn run(args: &[String]) -> Result<Vec<(f64, bool)>, Box<dyn Error>> {
    let (run_dir, table) = match args {
        [run_dir, table, ..] => (run_dir, table),
        _ => return Err("usage: score_csv RUN_DIR TABLE.csv [LABEL_COLUMN]".into()),
    };
    let run = TrainedRun::<Flex>::open(run_dir, &Default::default())?;
    let mut detector = match AnomalyDetector::saved(&run)? {
        Some(saved) => saved,
        None => {
            let mut fresh = AnomalyDetector::new(&run, None)?;
            fresh.fit(ThresholdRule::Contamination(0.05))?;
            fresh
        }
    };
    detector.batch_size = 256;
    let rows = run.read(&ItemSource::Path {
        path: table.into(),
        label_column: args.get(2).cloned(),
    })?;
    let scores = detector.decision_function(&rows)?;
    let flags = detector.predict(&rows)?;
    Ok(scores.into_iter().zip(flags).collect())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scored = run(&args)?;
    println!("row,score,anomaly");
    for (row, (score, flag)) in scored.iter().enumerate() {
        println!("{row},{score},{}", u8::from(*flag));
    }
    let flagged = scored.iter().filter(|(_, flag)| *flag).count();
    eprintln!("{flagged} of {} rows flagged", scored.len());
    Ok(())
}
