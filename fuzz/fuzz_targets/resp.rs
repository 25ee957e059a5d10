#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| framesim_checks::resp(data));
