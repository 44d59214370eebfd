// AIDA-X processors of 3 inputs (the signal and 2 knobs), every AIDA-X hidden size.
#include "aidax_model.h"

namespace nfx::aidax
{
std::unique_ptr<Processor> makeIn3(const json& j, const ModelInfo& info)
{
    return dispatch<3>(j, info, AidaxSizes {});
}
} // namespace nfx::aidax
