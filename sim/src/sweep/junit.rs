//! A sweep as JUnit XML, for the test pages of CI engines: one test case per failing seed
//! (its oracle as the failure's type, its line and replay command as the description), and
//! one for the seeds that passed.

use super::engine::Swept;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// The JUnit XML of `swept`, a sweep of `label`.
pub fn junit(label: &str, swept: &Swept) -> String {
    let mut suite = TestSuite::new(label);
    suite.set_time(swept.wall);
    for failure in &swept.failures {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_message(failure.failure.clone().unwrap_or_default())
            .set_type(failure.oracle.clone().unwrap_or_default())
            .set_description(failure.line());
        let mut case = TestCase::new(format!("seed {}", failure.seed), status);
        case.set_classname(label).set_time(failure.wall());
        suite.add_test_case(case);
    }
    let passed = swept.seeds - swept.failures.len();
    if passed > 0 {
        let mut case = TestCase::new(format!("{passed} passing seeds"), TestCaseStatus::success());
        case.set_classname(label);
        suite.add_test_case(case);
    }
    let mut report = Report::new("framesim sweep");
    report.add_test_suite(suite);
    report.to_string().expect("a report of strings serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{Plan, SeedResult, Seeds, Shard};

    #[test]
    fn failing_seeds_are_failing_cases_with_their_oracle() {
        let plan = Plan::new(
            Seeds::Range {
                range: 0..4,
                shard: Shard::ALL,
            },
            1,
        );
        let swept = plan.run(
            |seed, _| {
                let r = SeedResult::pass(seed, 0, seed, format!("replay {seed}"));
                if seed == 2 {
                    r.failing("[executed] <twice> & more".into())
                } else {
                    r
                }
            },
            &(),
        );
        let xml = junit("adversarial", &swept);
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("name=\"seed 2\""), "{xml}");
        assert!(xml.contains("type=\"executed\""), "{xml}");
        assert!(xml.contains("&lt;twice&gt; &amp; more"), "{xml}");
        assert!(xml.contains("name=\"3 passing seeds\""), "{xml}");
    }
}
