#![no_main]
use framesim_checks::{split_invariance, SplitInput};
libfuzzer_sys::fuzz_target!(|input: SplitInput| split_invariance(input));
