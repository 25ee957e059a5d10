//! One sweep engine for every server: many seeds on threads, each run by a closure the
//! caller gives (a harness run of your server, or a scenario of framesim's own), results in
//! seed order whatever the threads' timing, the lowest failing seeds, and some seeds run
//! twice to check that they give the same transcript. [`sweep!`](crate::sweep!), a
//! harness binary's `sweep` ([`crate::harness::cli`]) and `framesim sweep` all run on it.
//!
//! ```
//! use framesim::sweep::{Plan, SeedResult, Seeds, Shard};
//!
//! let plan = Plan::new(Seeds::Range { range: 0..100, shard: Shard { index: 1, of: 4 } }, 2);
//! let swept = plan.run(
//!     |seed, _recheck| {
//!         let result = SeedResult::pass(seed, 0, seed, format!("replay {seed}"));
//!         if seed == 41 { result.failing("[odd] 41".into()) } else { result }
//!     },
//!     &(),
//! );
//! assert_eq!(swept.seeds, 25);
//! assert_eq!(swept.failures[0].seed, 41);
//! ```

mod budget;
mod command;
mod console;
mod coverage;
mod engine;
mod failures;
mod in_order;
mod junit;
mod merge;
mod recheck;
mod result;
mod results;
mod seeds;
mod shard;

pub use budget::duration;
pub use command::{at_least_one, default_jobs, exit_code, SweepArgs, Sweeping, SWEEP_SEEDS};
pub use console::print_line;
pub(crate) use coverage::stream_faults;
pub use coverage::{Coverage, Covered, Seen};
pub use engine::{Ended, Plan, Swept, Watch};
pub use failures::Failures;
pub use junit::junit;
pub use merge::{merge, print_merged, Disagreement, MergeArgs, Merged};
pub use recheck::{recheck, Recheck};
pub use result::{oracle_of, stable_hash, SeedResult, Verdict};
pub use results::ResultsFile;
pub use seeds::Seeds;
#[cfg(test)]
pub(crate) use shard::env;
pub use shard::{seed_range, shard, shard_from, Found, Shard, SHARD_VARIABLES};
