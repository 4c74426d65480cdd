//! The IDX reader on arbitrary bytes (plain or gzipped): it must return data or an error,
//! never panic, and what it returns must be consistent with its header.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(array) = ae_data::idx::decode_idx(bytes, Path::new("fuzz.idx")) {
        let declared: usize = array.dims.iter().product();
        assert_eq!(array.data.len(), declared, "dims {:?}", array.dims);
        assert!(!array.dims.is_empty());
    }
});
