//! Bulk import of households with their members in one transaction (R-SYS-3: records moved
//! from old systems; also the demo city's first load). The same rules as one-by-one
//! enrolment apply (one enrolment per national ID, scope, households exist), and one
//! refused person refuses the whole batch: nothing is half-imported.

use std::future::Future;

use yibao_domain::RegionCode;

use crate::{Actor, NewHousehold, NewPerson, StoreError};

/// Most households one import may carry.
pub const IMPORT_LIMIT: usize = 50_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportHousehold {
    pub household: NewHousehold,
    pub members: Vec<NewPerson>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub households: usize,
    pub persons: usize,
}

pub trait ImportStore: Send + Sync + 'static {
    fn import(
        &self,
        actor: &Actor,
        scope: RegionCode,
        households: Vec<ImportHousehold>,
    ) -> impl Future<Output = Result<ImportSummary, StoreError>> + Send;
}
