#![no_main]
use framesim_checks::{connection, ConnectionInput};
libfuzzer_sys::fuzz_target!(|input: ConnectionInput| connection(input));
