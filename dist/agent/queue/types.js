/**
 * Queue model. Priority classes: Law on Medical Examination and Treatment 2023 (Luật Khám bệnh,
 * chữa bệnh 15/2023/QH15), art. 3.2. The law sets no order among them: per-service configuration.
 */
export const PRIORITY_CLASSES = ['emergency', 'under6', 'pregnant', 'disability', 'age75', 'merit'];
/** Classes that follow from the birth date; the others are claimed and confirmed by staff. */
export const AUTOMATIC_CLASSES = ['under6', 'age75'];
export const PRIORITY_LABELS_VI = {
    emergency: 'Cấp cứu',
    under6: 'Trẻ dưới 6 tuổi',
    pregnant: 'Phụ nữ có thai',
    disability: 'Người khuyết tật nặng',
    age75: 'Người từ 75 tuổi',
    merit: 'Người có công với cách mạng',
};
/** A typed error with a code the API maps to an HTTP status (no stack traces to clients). */
export class QueueError extends Error {
    code;
    constructor(code, message) {
        super(message);
        this.code = code;
        this.name = 'QueueError';
    }
}
