//! A throwaway PostgreSQL server for scripts (`scripts/make-upgrade-fixture`): prints its
//! connection URL as the first line, serves until its standard input closes, then stops
//! and is removed, as in the tests.

use std::io::{Read, Write};

fn main() -> Result<(), String> {
    let server = yibao_testpg::TestPostgres::start_server()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", server.url()).and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
    // Blocks until the script closes our standard input (or exits).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}
