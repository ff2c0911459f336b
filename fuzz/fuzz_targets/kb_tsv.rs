//! The knowledge-base importer (QnA Maker TSV) and its metadata syntax.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(kb) = qna::import::parse_tsv(text, "fuzz.tsv") {
        let _ = kb.question_count();
    }
    let _ = qna::import::parse_metadata(text);
});
