// HTTP/1.1 reason phrases for the statuses vpcri's small HTTP servers send (cri/streaming,
// metrics/, common/http's test servers).
#pragma once

namespace vpcri {

const char* http_reason_phrase(int status);  // "Error" for one not listed

}  // namespace vpcri
