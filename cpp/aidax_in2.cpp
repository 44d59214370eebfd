// AIDA-X processors of 2 inputs (the signal and 1 knob), every AIDA-X hidden size.
#include "aidax_model.h"

namespace nfx::aidax
{
std::unique_ptr<Processor> makeIn2(const json& j, const ModelInfo& info)
{
    return dispatch<2>(j, info, AidaxSizes {});
}
} // namespace nfx::aidax
