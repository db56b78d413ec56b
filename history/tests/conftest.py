from refs.tests.conftest import (  # noqa: F401
    abtv,
    full_otu,
    otu_factory,
    owner,
    owner_client,
    reference,
    stranger,
    stranger_client,
)
