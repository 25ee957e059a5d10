#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| framesim::kv::fuzz::simulation(data));
