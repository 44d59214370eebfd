// AIDA-X files the way AIDA-X plays them: see aidax_model.h.
#include "aidax_model.h"

namespace nfx
{

std::unique_ptr<Processor> makeAidaxProcessor(const json& j, const ModelInfo& info, const std::string& where)
{
    if(info.in_channels > 3)
        throw UserError(where + ": takes " + std::to_string(info.in_channels)
                        + " inputs; AIDA-X runs the signal and up to 2 knobs (PARAM1, PARAM2): use the native format");
    std::unique_ptr<Processor> p;
    switch(info.in_channels)
    {
    case 1: p = aidax::makeIn1(j, info); break;
    case 2: p = aidax::makeIn2(j, info); break;
    case 3: p = aidax::makeIn3(j, info); break;
    default: break;
    }
    if(!p)
        throw UserError(where + ": hidden size " + std::to_string(info.hidden)
                        + " is not one AIDA-X runs (8, 12, 16, 20, 24, 32, 40, 64, 80)");
    return p;
}

} // namespace nfx
