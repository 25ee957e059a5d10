#![no_main]
use framesim_checks::{roundtrip, RoundtripInput};
libfuzzer_sys::fuzz_target!(|input: RoundtripInput| roundtrip(input));
